// The runc engine: runs a RunSpec with rootless runc (or crun) from a generated OCI bundle.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import type {
  Engine,
  ExecSpec,
  ProbeResult,
  RunIO,
  RunningContainer,
  RunSpec,
} from "../../src/engine-interface.js";
import { binarySearch, findBinary, isExecutableFile } from "../../src/binaries.js";
import type { BinarySearch } from "../../src/binaries.js";
import { BurrowError, EngineUnavailableError, InvalidArgumentError } from "../../src/errors.js";
import { printable } from "../../src/cli/printable.js";
import { findPackageRoot } from "../../src/package-info.js";
import { spawnEngine, waitForChild } from "../common/signals.js";
import { readProcSys, readUsernsSysctls, sysctlBlock } from "../common/userns-sysctl.js";
import type { SysctlReader } from "../common/userns-sysctl.js";
import { INIT_PATH, LIFELINE_FD, ociConfig, ociJson, ociProcess, usesLifeline } from "./config.js";
import { RUNC_ID_PREFIX } from "../../src/run/sweep.js";
import { ownerTag } from "../../src/store/owner.js";
import { checkNetwork } from "../../src/run/network.js";
import { launchPrefix } from "../../src/run/limits.js";
import { classify, isRuntimeMessage } from "./failure.js";
import { sharedSquashfsMounts } from "../../src/kernel.js";
import { findHelper, helperSearch } from "../common/burrow-ns-locate.js";

/** The OCI runtimes this engine drives. */
export type RuncFlavor = "runc" | "crun";

/** The override variable of each flavor's binary. */
const ENV_VAR: Record<RuncFlavor, string> = { runc: "BURROW_RUNC", crun: "BURROW_CRUN" };

/** The oldest version of each flavor this engine's bundles are written for. */
const MIN_VERSION: Record<RuncFlavor, [number, number]> = { runc: [1, 1], crun: [1, 0] };

/** Distributions install runc in sbin, which unprivileged users' PATH often lacks: looked at after PATH. */
const SBIN_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** cgroup2's file system magic (statfs of /sys/fs/cgroup on a unified host). */
const CGROUP2_MAGIC = 0x63677270;

/**
 * The flavor named by an engine spelling (`runc`, `runc:crun`, `runc:runc`) or by
 * BURROW_RUNC_FLAVOR; undefined when `name` is not the runc engine's. udocker's R1-R3 all run runc
 * (`setup --execmode`); crun is burrow's own `runc:crun`.
 */
export function parseFlavor(value: string | undefined): RuncFlavor | undefined {
  const v = (value ?? "").trim();
  if (v === "" || v === "runc" || v === "runc:runc") return "runc";
  if (v === "crun" || v === "runc:crun") return "crun";
  return undefined;
}

/** `major.minor.patch` from `runc --version` / `crun --version`. */
export function parseRuntimeVersion(out: string): { flavor: RuncFlavor; version: string } | undefined {
  const m = /^(runc|crun) version (\d+\.\d+(?:\.\d+)?)\S*/m.exec(out);
  return m ? { flavor: m[1] as RuncFlavor, version: m[2]! } : undefined;
}

/** Whether `version` (`1.1.5`) is at least `min`. */
export function versionAtLeast(version: string, min: [number, number]): boolean {
  const [maj = 0, minor = 0] = version.split(".").map((n) => Number.parseInt(n, 10));
  return maj > min[0] || (maj === min[0] && minor >= min[1]);
}

/** What the engine is made with. */
export interface RuncOptions {
  storeRoot: string | undefined;
  env: NodeJS.ProcessEnv;
  /** runc or crun (default: BURROW_RUNC_FLAVOR, else runc). */
  flavor?: RuncFlavor | undefined;
  /** The package root holding vendor/ (default: found from this file's location). */
  packageRoot?: string | undefined;
  readSysctl?: SysctlReader;
  isExecutable?: (file: string) => boolean;
  /** Runs `BINARY --version` (tests feed answers). */
  versionOf?: (binary: string) => string | undefined;
  /** Whether /sys/fs/cgroup is cgroup v2 (crun refuses v1 and hybrid hosts). */
  cgroupV2?: () => boolean;
}

/** `BINARY --version`'s stdout, or undefined when it cannot run. */
function runVersion(binary: string): string | undefined {
  const r = spawnSync(binary, ["--version"], {
    stdio: ["ignore", "pipe", "ignore"],
    encoding: "utf8",
    timeout: 5000,
    env: {},
  });
  return r.status === 0 ? r.stdout : undefined;
}

function isCgroupV2(): boolean {
  try {
    return Number(fs.statfsSync("/sys/fs/cgroup").type) === CGROUP2_MAGIC;
  } catch {
    return false;
  }
}

/** Runs RunSpecs with rootless runc (or crun) in a generated OCI bundle. */
export class RuncEngine implements Engine {
  readonly name = "runc";
  /** runc mounts the overlay itself, as the first mount of the bundle, inside the user namespace. */
  readonly supportsOverlay = true;
  readonly flavor: RuncFlavor;
  private readonly opts: RuncOptions;
  private probed: Promise<ProbeResult> | undefined;
  private pkgRoot: string | null | undefined;

  constructor(opts: RuncOptions) {
    this.opts = opts;
    const asked = opts.flavor ?? parseFlavor(opts.env.BURROW_RUNC_FLAVOR);
    if (asked === undefined) {
      throw new InvalidArgumentError(
        `invalid BURROW_RUNC_FLAVOR "${opts.env.BURROW_RUNC_FLAVOR ?? ""}": use runc or crun`,
      );
    }
    this.flavor = asked;
  }

  /**
   * An image kept as one SquashFS file is mounted, not unpacked, where runc can be started in the user
   * namespace of the node's shared mount of it (burrow-ns --squashfs-enter, engines/userns/share.c): runc
   * (not crun), burrow-ns found, and a kernel with open_tree (Linux 5.2).
   */
  get supportsSquashfs(): boolean {
    return (
      this.flavor === "runc" && this.squashfsHelper() !== undefined && sharedSquashfsMounts(os.release())
    );
  }

  /** burrow-ns, which enters the shared SquashFS mount for runc: as the userns engine finds it. */
  private squashfsHelper(): string | undefined {
    const search = helperSearch({
      env: this.opts.env,
      storeRoot: this.opts.storeRoot,
      packageRoot: this.packageRoot(),
    });
    return findHelper(search, this.opts.isExecutable ?? isExecutableFile);
  }

  private packageRoot(): string | undefined {
    this.pkgRoot ??= ("packageRoot" in this.opts ? this.opts.packageRoot : findPackageRoot()) ?? null;
    return this.pkgRoot ?? undefined;
  }

  /** Where `name` is looked for: override variable, store bin/, vendor/, PATH, then the sbin folders. */
  search(name: string, envVar: string): BinarySearch {
    const s = binarySearch({
      name,
      envVar,
      env: this.opts.env,
      storeRoot: this.opts.storeRoot,
      packageRoot: this.packageRoot(),
    });
    if (s.explicit !== undefined) return s;
    for (const dir of SBIN_DIRS) {
      const c = path.join(dir, name);
      if (!s.candidates.includes(c)) s.candidates.push(c);
    }
    return s;
  }

  /** The runtime binary (runc or crun), or undefined. */
  binary(): string | undefined {
    return findBinary(
      this.search(this.flavor, ENV_VAR[this.flavor]),
      this.opts.isExecutable ?? isExecutableFile,
    );
  }

  /** burrow-runc-init (BURROW_RUNC_INIT, store bin/, vendor/), or undefined when it is not built. */
  init(): string | undefined {
    return findBinary(
      this.search("burrow-runc-init", "BURROW_RUNC_INIT"),
      this.opts.isExecutable ?? isExecutableFile,
    );
  }

  /** Whether the engine can run here (cached: one `--version` per engine object). */
  probe(): Promise<ProbeResult> {
    this.probed ??= Promise.resolve(this.probeOnce());
    return this.probed;
  }

  private probeOnce(): ProbeResult {
    const flavor = this.flavor;
    const search = this.search(flavor, ENV_VAR[flavor]);
    const binary = findBinary(search, this.opts.isExecutable ?? isExecutableFile);
    if (binary === undefined) {
      if (search.explicit !== undefined) {
        return {
          ok: false,
          reason: `${ENV_VAR[flavor]} names ${search.explicit}, which is not an executable file`,
          binary: search.explicit,
        };
      }
      return {
        ok: false,
        reason: `${flavor} is not installed (not in the store's bin/, vendor/linux-${process.arch}/, PATH or sbin); \`burrow install\` fetches a static build`,
      };
    }
    const privileged = process.getuid?.() === 0;
    const blocked = sysctlBlock(readUsernsSysctls(this.opts.readSysctl ?? readProcSys), privileged);
    if (blocked !== undefined)
      return { ok: false, reason: `rootless ${flavor} needs them: ${blocked}`, binary };
    const out = (this.opts.versionOf ?? runVersion)(binary);
    const parsed = out === undefined ? undefined : parseRuntimeVersion(out);
    if (parsed === undefined) {
      return {
        ok: false,
        reason: `${binary} --version does not print a ${flavor} version: is it ${flavor}?`,
        binary,
      };
    }
    const min = MIN_VERSION[flavor];
    if (!versionAtLeast(parsed.version, min)) {
      return {
        ok: false,
        reason: `${flavor} ${parsed.version} is too old (this engine needs ${min.join(".")} or newer); \`burrow install\` fetches a newer static build`,
        binary,
      };
    }
    if (flavor === "crun" && !(this.opts.cgroupV2 ?? isCgroupV2)()) {
      return {
        ok: false,
        reason:
          "crun refuses hosts with cgroup v1 or hybrid cgroups, as this one has; use runc (the default flavor)",
        binary,
      };
    }
    const init =
      this.init() === undefined ? "without burrow-runc-init: root user only" : "with burrow-runc-init";
    return { ok: true, binary, version: `${flavor} ${parsed.version} (${init})` };
  }

  /** The state folder given to runc's --root: the store's run/<flavor>/, else the run's scratch. */
  stateRoot(io: RunIO): string {
    return this.opts.storeRoot
      ? path.join(this.opts.storeRoot, "run", this.flavor)
      : path.join(io.scratch, `${this.flavor}-state`);
  }

  /** Runs the spec with burrow's stdio; resolves to the program's exit status. */
  async run(spec: RunSpec, io: RunIO): Promise<number> {
    const probed = this.probed ? await this.probed : undefined;
    const binary = probed?.ok ? probed.binary : this.binary();
    if (binary === undefined) {
      throw new EngineUnavailableError(`engine runc cannot run here: ${this.flavor} is not installed`);
    }
    checkNetwork("runc", spec, ["host", "none"]);
    // --cpuset-cpus through taskset, the cgroup limits by starting runc in the run's cgroup (runc's own
    // cgroup handling stays off, as rootless runc without delegation has it); --ulimit: config.json.
    const parent = spec.limits?.cgroup?.parent;
    const cgroup =
      parent !== undefined
        ? (await import("../../src/run/cgroup.js")).makeRunCgroup(
            parent,
            spec.limits!.cgroup!,
            randomBytes(6).toString("hex"),
          )
        : undefined;
    try {
      const prefix = launchPrefix("runc", spec.limits, {
        rlimits: false,
        cgroupDir: cgroup?.dir,
        pathVar: io.env.PATH,
        isExec: this.opts.isExecutable ?? isExecutableFile,
      });
      return await this.runIn(spec, io, binary, prefix);
    } finally {
      cgroup?.remove();
    }
  }

  /** run()'s body: the bundle, then `PREFIX... runc run`. */
  private async runIn(spec: RunSpec, io: RunIO, binary: string, prefix: string[]): Promise<number> {
    const bundle = path.join(io.scratch, "bundle");
    const emptyDev = path.join(bundle, "empty-dev");
    fs.mkdirSync(bundle, { recursive: true, mode: 0o700 });
    if (!spec.sysdirs) fs.mkdirSync(emptyDev, { recursive: true, mode: 0o755 });
    const config = ociConfig(spec, {
      hostUid: process.geteuid?.() ?? os.userInfo().uid,
      hostGid: process.getegid?.() ?? os.userInfo().gid,
      init: this.init(),
      terminal: spec.tty && process.stdin.isTTY === true,
      emptyDev,
      arch: process.arch,
      exists: (f) => fs.existsSync(f),
    });
    fs.writeFileSync(path.join(bundle, "config.json"), ociJson(config));

    const root = this.stateRoot(io);
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
    // Named after this process, so that the next command sweeps the state of a killed run (src/run/sweep.ts).
    const id = `${RUNC_ID_PREFIX}${ownerTag()}-${randomBytes(6).toString("hex")}`;
    const log = path.join(io.scratch, `${this.flavor}.log`);
    const global = ["--root", root, "--log", log, "--log-format", "json"];
    if (this.flavor === "crun") global.push("--cgroup-manager=disabled");
    // A SquashFS image: runc starts in the user namespace of the node's shared mount of the file, with that
    // mount at the overlay's lower folder (config.ts then asks for no user namespace of its own).
    const squashfs = spec.root.kind === "overlay" ? spec.root.squashfs : undefined;
    const enter: string[] = [];
    if (squashfs !== undefined && spec.root.kind === "overlay") {
      const helper = this.squashfsHelper();
      if (helper === undefined || squashfs.share === undefined) {
        throw new EngineUnavailableError(
          "engine runc cannot mount this SquashFS image here: burrow-ns is not found",
        );
      }
      enter.push(
        helper,
        "--squashfs-enter",
        squashfs.file,
        squashfs.squashfuse,
        squashfs.share,
        spec.root.lower,
        "--",
      );
      global.push("--rootless=true");
    }
    // The init's lifeline: the socket at LIFELINE_FD, passed on by runc; when burrow is gone (even
    // killed with SIGKILL) it reads end-of-file, and the init leaves, taking the container down.
    const lifeline = usesLifeline(config.process.args);
    // --no-new-keyring: no session keyring per container (a Slurm array would exhaust the quota).
    const args = [
      ...global,
      "run",
      "--no-new-keyring",
      ...(lifeline ? ["--preserve-fds", "1"] : []),
      "--bundle",
      bundle,
      id,
    ];
    const env = { PATH: io.env.PATH ?? "/usr/local/bin:/usr/bin:/bin" };

    const held: Buffer[] = [];
    let code: number;
    try {
      const launch = [...prefix, ...enter, binary, ...args];
      const child = spawnEngine("runc", binary, launch[0]!, launch.slice(1), {
        stdio: lifeline ? ["inherit", "inherit", "pipe", "pipe"] : ["inherit", "inherit", "pipe"],
        env,
        cwd: "/",
      });
      const line = child.stdio[LIFELINE_FD] as Readable | null | undefined;
      // The init's one-byte report is not needed (runc reports the status); the socket goes with runc.
      line?.on("error", () => undefined).resume();
      child.on("exit", () => line?.destroy());
      // "close": the status once the program's stderr (read below) is drained too.
      const done = waitForChild(child, "runc", binary, { event: "close" });
      if (io.onStarted !== undefined && child.pid !== undefined) {
        reportStarted(binary, ["--root", root], id, child.pid, io.onStarted, {
          root,
          binary,
          id,
          flavor: this.flavor,
        });
      }
      // The program's stderr comes through runc; runc's own fatal line waits for the log's verdict.
      child.stderr!.on("data", (chunk: Buffer) => {
        if (isRuntimeMessage(chunk.toString("utf8"))) held.push(chunk);
        else process.stderr.write(chunk);
      });
      code = await done;
    } finally {
      this.remove(binary, global, root, id);
    }
    const outcome = classify(readText(log));
    if (outcome.kind === "ran") {
      for (const chunk of held) process.stderr.write(chunk);
      return code;
    }
    if (outcome.kind === "exec") {
      process.stderr.write(`${printable(outcome.message)}\n`);
      return outcome.status;
    }
    throw new BurrowError("ERR_ENGINE_FAILED", `engine runc (${this.flavor}) failed: ${outcome.message}`);
  }

  /** Runs a program inside a running container with `runc exec` (`burrow exec`); resolves to its exit status. */
  async exec(container: RunningContainer, exec: ExecSpec, io: RunIO): Promise<number> {
    const h = container.started.handle ?? {};
    const { root, binary, id } = h;
    if (root === undefined || binary === undefined || id === undefined) {
      throw new EngineUnavailableError("engine runc recorded no runc container to exec in");
    }
    const spec = container.spec;
    const nested = exec.uid !== 0 || exec.gid !== 0;
    const init = this.init();
    if (nested && init === undefined) {
      throw new InvalidArgumentError(
        `engine runc cannot exec as ${exec.uid}:${exec.gid} without burrow-runc-init, which is not built: build it with \`sh engines/runc/build.sh\``,
      );
    }
    // runc maps container root alone: another user is made by burrow-runc-init, as for the run (config.ts).
    const args =
      nested && spec.sysdirs
        ? [INIT_PATH, `--uid=${exec.uid}`, `--gid=${exec.gid}`, "--", ...exec.argv]
        : exec.argv;
    const process_ = ociProcess(args, exec.env, exec.cwd, exec.tty && process.stdin.isTTY === true);
    fs.mkdirSync(io.scratch, { recursive: true });
    const processFile = path.join(io.scratch, "process.json");
    fs.writeFileSync(processFile, JSON.stringify(process_));
    const log = path.join(io.scratch, "exec.log");
    const global = ["--root", root, "--log", log, "--log-format", "json"];
    if (h.flavor === "crun") global.push("--cgroup-manager=disabled");
    const env = { PATH: io.env.PATH ?? "/usr/local/bin:/usr/bin:/bin" };
    const held: Buffer[] = [];
    const child = spawnEngine("runc", binary, binary, [...global, "exec", "--process", processFile, id], {
      stdio: ["inherit", "inherit", "pipe"],
      env,
      cwd: "/",
    });
    const done = waitForChild(child, "runc", binary, { event: "close" });
    child.stderr!.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      if (isRuntimeMessage(text) || text.startsWith("exec failed: ")) held.push(chunk);
      else process.stderr.write(chunk);
    });
    const code = await done;
    const outcome = classify(readText(log));
    if (outcome.kind === "ran") {
      for (const chunk of held) process.stderr.write(chunk);
      return code;
    }
    if (outcome.kind === "exec") {
      process.stderr.write(`${printable(outcome.message)}\n`);
      return outcome.status;
    }
    throw new BurrowError(
      "ERR_ENGINE_FAILED",
      `engine runc (${this.flavor}) exec failed: ${outcome.message}`,
    );
  }

  /** Deletes the container's state when runc left it (an interrupted or failed run). */
  private remove(binary: string, global: string[], root: string, id: string): void {
    if (!fs.existsSync(path.join(root, id))) return;
    spawnSync(binary, [...global, "delete", "--force", id], { stdio: "ignore", timeout: 10_000 });
    fs.rmSync(path.join(root, id), { recursive: true, force: true });
  }
}

/**
 * Reports the container's processes once runc says it is running (`runc state`: the container's init,
 * whose pid namespace and root an exec joins). Given up quietly after 10 s.
 */
function reportStarted(
  binary: string,
  global: string[],
  id: string,
  runcPid: number,
  onStarted: NonNullable<RunIO["onStarted"]>,
  handle: Record<string, string>,
): void {
  void (async () => {
    const { pollFor } = await import("../../src/run/state.js");
    const { execFile } = await import("node:child_process");
    const state = (): Promise<{ status?: string; pid?: number } | undefined> =>
      new Promise((resolve) => {
        execFile(binary, [...global, "state", id], { timeout: 5000, env: {} }, (err, stdout) => {
          if (err) return resolve(undefined);
          try {
            resolve(JSON.parse(stdout) as { status?: string; pid?: number });
          } catch {
            resolve(undefined);
          }
        });
      });
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      const st = await state();
      if (st?.status === "running" && typeof st.pid === "number" && st.pid > 0) {
        onStarted({ pid: runcPid, initPid: st.pid, handle });
        return;
      }
      if (st?.status === "stopped") return;
      await pollFor(() => undefined, 20);
    }
  })();
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/**
 * The engine registry's factory (src/engine-registry.ts): the setting's variant (`runc:crun`, saved by `setup
 * --engine crun`) or `flavor` overrides BURROW_RUNC_FLAVOR; an unknown variant is refused.
 */
export function createEngine(ctx: {
  storeRoot: string | undefined;
  env: NodeJS.ProcessEnv;
  variant?: string | undefined;
  flavor?: RuncFlavor | undefined;
}): RuncEngine {
  let flavor = ctx.flavor;
  if (flavor === undefined && ctx.variant !== undefined) {
    flavor = parseFlavor(`runc:${ctx.variant}`);
    if (flavor === undefined) {
      throw new InvalidArgumentError(
        `the runc engine has no variant "${ctx.variant}": use runc or runc:crun`,
      );
    }
  }
  return new RuncEngine({ storeRoot: ctx.storeRoot, env: ctx.env, flavor });
}
