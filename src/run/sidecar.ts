// What runs beside the userns helper for `--network slirp` and the cgroup limits: the run's cgroup (made
// before, removed after) and slirp4netns, attached to the helper's network namespace through the
// helper's --net-sync handshake (fd 3: the namespace exists; fd 4: the network is up, go on).
import type { ChildProcess, StdioOptions } from "node:child_process";
import { randomHex } from "../store/random.js";
import type { RunIO, RunSpec } from "../engine-interface.js";
import { makeRunCgroup } from "./cgroup.js";
import type { RunCgroup } from "./cgroup.js";
import type { Slirp } from "./slirp.js";

/** The helper's extra arguments and stdio, and the hooks around its life. */
export interface Sidecar {
  args: string[];
  stdio: StdioOptions;
  /** Called right after the spawn; `fail` rejects the run (the helper is killed first). */
  attach(child: ChildProcess, fail: (err: unknown) => void): void;
  /** Stops slirp4netns and removes the cgroup; called once the helper has exited. */
  finish(): Promise<void>;
}

/** The sidecar of `spec`, or undefined when it needs none (host or none network, no cgroup limits). */
export async function helperSidecar(spec: RunSpec, io: RunIO): Promise<Sidecar | undefined> {
  const slirpWanted = spec.network?.mode === "slirp";
  const limits = spec.limits?.cgroup;
  if (!slirpWanted && limits?.parent === undefined) return undefined;
  const args: string[] = [];
  let cgroup: RunCgroup | undefined;
  if (limits?.parent !== undefined) {
    cgroup = makeRunCgroup(limits.parent, limits, randomHex(6));
    args.push(`--cgroup=${cgroup.dir}`);
  }
  let slirp: Promise<Slirp | undefined> = Promise.resolve(undefined);
  let binary: string | undefined;
  if (slirpWanted) {
    const { findSlirp } = await import("./slirp.js");
    try {
      binary = findSlirp(io.env);
    } catch (err) {
      cgroup?.remove();
      throw err;
    }
    args.push("--net-sync=3:4");
  }
  return {
    args,
    stdio: slirpWanted ? ["inherit", "inherit", "inherit", "pipe", "pipe"] : "inherit",
    attach(child, fail) {
      if (binary === undefined || child.pid === undefined) return;
      const pid = child.pid;
      const readyPipe = child.stdio[3] as NodeJS.ReadableStream;
      const goPipe = child.stdio[4] as NodeJS.WritableStream;
      slirp = new Promise((resolve) => {
        // The helper writes one byte once its network namespace exists (never, if it failed before).
        let signalled = false;
        readyPipe.once("data", () => {
          signalled = true;
          void (async () => {
            const { startSlirp } = await import("./slirp.js");
            try {
              const s = await startSlirp(binary, pid, spec.network!, io.scratch);
              goPipe.end("1");
              resolve(s);
            } catch (err) {
              child.kill("SIGKILL");
              goPipe.end();
              resolve(undefined);
              fail(err);
            }
          })();
        });
        // The helper closes it after its byte; without one it failed before (its own message says why).
        readyPipe.once("end", () => {
          if (!signalled) resolve(undefined);
        });
      });
    },
    async finish() {
      await (await slirp)?.stop();
      cgroup?.remove();
    },
  };
}
