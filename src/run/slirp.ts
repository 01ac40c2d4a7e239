// `--network slirp`: slirp4netns attached to a container's network namespace (by the pid of a process in
// it), its ports published through slirp4netns's API socket (add_hostfwd), stopped when the run ends.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import type { NetworkSpec, PortMapping } from "../engine-interface.js";
import { binarySearch, findBinary } from "../binaries.js";
import { BurrowError, EngineUnavailableError, InvalidArgumentError } from "../errors.js";
import { publishText } from "./network.js";

/** A running slirp4netns; stop() ends it (and is safe to call twice). */
export interface Slirp {
  stop(): Promise<void>;
}

/** slirp4netns from BURROW_SLIRP4NETNS, the store's bin/, PATH or /usr/bin; the refusal when none is found. */
export function findSlirp(env: NodeJS.ProcessEnv, storeRoot?: string): string {
  const search = binarySearch({
    name: "slirp4netns",
    envVar: "BURROW_SLIRP4NETNS",
    env,
    storeRoot,
    packageRoot: undefined,
  });
  if (search.explicit === undefined) search.candidates.push("/usr/bin/slirp4netns");
  const found = findBinary(search);
  try {
    fs.accessSync("/dev/net/tun", fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    throw new EngineUnavailableError(
      "--network slirp needs /dev/net/tun, which you may not open here: ask your admin to make it mode 0666 (udev's default), or use --network host or none",
    );
  }
  if (found === undefined) {
    throw new EngineUnavailableError(
      "--network slirp needs slirp4netns, which is not installed: install it (Debian/Ubuntu: apt-get install slirp4netns) or use --network host or none",
    );
  }
  return found;
}

/** The arguments that attach slirp4netns to the network namespace of `pid` (fds 3: ready, 4: exit). */
export function slirpArgs(pid: number, network: NetworkSpec, apiSocket: string): string[] {
  const args = ["--configure", "--mtu=65520"];
  if (!network.allowHostLoopback) args.push("--disable-host-loopback");
  args.push(`--api-socket=${apiSocket}`, "--ready-fd=3", "--exit-fd=4", String(pid), "tap0");
  return args;
}

/** The add_hostfwd request of one mapping (slirp4netns(1), "API SOCKET"). */
export function hostfwdRequest(p: PortMapping): string {
  return JSON.stringify({
    execute: "add_hostfwd",
    arguments: { proto: p.protocol, host_addr: p.hostIp, host_port: p.hostPort, guest_port: p.containerPort },
  });
}

/** Sends one request on the API socket (written, then shut down for writing) and returns the answer. */
function apiCall(socket: string, request: string): Promise<{ return?: unknown; error?: { desc?: string } }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const c = net.createConnection(socket);
    c.on("connect", () => c.end(request));
    c.on("data", (d: Buffer) => chunks.push(d));
    c.on("error", reject);
    c.on("close", () => {
      try {
        resolve(
          JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
            return?: unknown;
            error?: { desc?: string };
          },
        );
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

/** Waits until slirp4netns writes on its ready fd, or exits first (then rejects with what it said). */
function ready(child: ChildProcess, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const readyPipe = child.stdio[3] as NodeJS.ReadableStream;
    const onExit = (code: number | null): void =>
      reject(
        new BurrowError(
          "ERR_NETWORK",
          `slirp4netns failed to set up the container's network (exit ${code ?? "by signal"}): ${stderr().trim().split("\n").pop() ?? ""}`,
        ),
      );
    child.once("exit", onExit);
    child.once("error", reject);
    readyPipe.once("data", () => {
      child.removeListener("exit", onExit);
      resolve();
    });
  });
}

/**
 * Starts slirp4netns for the namespace of `pid` and publishes `network.publish`; resolves once the tap
 * device is up and every port is forwarded. A port that cannot be forwarded (in use) stops it and rejects.
 */
export async function startSlirp(
  binary: string,
  pid: number,
  network: NetworkSpec,
  scratch: string,
): Promise<Slirp> {
  // A socket's path is limited to 107 bytes (sun_path), and a scratch folder's owner-named path can be
  // longer: both ends reach the socket through a descriptor of the scratch folder instead (fd 5 in
  // slirp4netns, this process's own fd here), so the path stays short whatever the store's location.
  const dirFd = fs.openSync(scratch, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const apiSocket = `/proc/self/fd/${dirFd}/slirp.sock`;
  let child: ChildProcess;
  try {
    child = spawn(binary, slirpArgs(pid, network, "/proc/self/fd/5/slirp.sock"), {
      stdio: ["ignore", "ignore", "pipe", "pipe", "pipe", dirFd],
      cwd: "/",
    });
  } catch (e) {
    fs.closeSync(dirFd);
    throw e;
  }
  let dirOpen = true;
  const closeDir = (): void => {
    if (dirOpen) fs.closeSync(dirFd);
    dirOpen = false;
  };
  child.once("exit", closeDir);
  child.once("error", closeDir);
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString("utf8");
  });
  let stopped: Promise<void> | undefined;
  const slirp: Slirp = {
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        // Closing the exit fd is slirp4netns's own way out; a signal if it lingers.
        (child.stdio[4] as NodeJS.WritableStream).end();
        const t = setTimeout(() => child.kill("SIGKILL"), 2000);
        t.unref();
        child.kill("SIGTERM");
      })),
  };
  try {
    await ready(child, () => err);
    for (const p of network.publish) {
      const answer = await apiCall(apiSocket, hostfwdRequest(p));
      if (answer.error !== undefined) {
        throw new InvalidArgumentError(
          `cannot publish -p ${publishText(p)}: ${answer.error.desc ?? JSON.stringify(answer.error)} (is the host port in use?)`,
        );
      }
    }
  } catch (e) {
    await slirp.stop();
    throw e;
  }
  return slirp;
}
