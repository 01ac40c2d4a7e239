// The proot engine: runs a RunSpec under PRoot (ptrace path translation), for hosts without user namespaces.
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
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
import type { EngineContext } from "../../src/engine-registry.js";
import { EngineUnavailableError, InvalidArgumentError } from "../../src/errors.js";
import { printable } from "../../src/cli/printable.js";
import { findPackageRoot } from "../../src/package-info.js";
import { spawnEngine, waitForChild } from "../common/signals.js";
import { checkSupported, INIT_PATH, initWords, LIFELINE_FD, prootArgs, prootEnv } from "./args.js";
import { checkNetwork, publishText } from "../../src/run/network.js";
import { launchPrefix } from "../../src/run/limits.js";
import type { ProotFeatures } from "./args.js";
import { ProotRunError } from "./errors.js";
import { findProgram, resolveGuest } from "./guest-path.js";
import { prepareBinds } from "./mounts.js";
import { programTarget } from "./signals.js";
import { parseProotVersion, versionNumber } from "./version.js";
import { runCaptured as captured } from "../../src/captured-run.js";
import type { CapturedRun } from "../../src/captured-run.js";

/** The binary's file name, and the variable that names one explicitly. */
export const PROOT_NAME = "proot";
export const PROOT_ENV = "BURROW_PROOT";

export type { CapturedRun };

/** Runs PRoot once (`args`, environment `env`) and collects its output. */
export type ProotRunner = (binary: string, args: string[], env: Record<string, string>) => CapturedRun;

/** Runs `binary ARGS` synchronously with `env` and collects its output (a few milliseconds). */
export function runCaptured(binary: string, args: string[], env: Record<string, string>): CapturedRun {
  return captured(binary, args, env);
}

/** The first non-empty line of `text`, or `fallback`. */
function firstLine(text: string, fallback: string): string {
  return (
    text
      .split("\n")
      .find((l) => l.trim() !== "")
      ?.trim() ?? fallback
  );
}

/** Whether PRoot's output blames seccomp (its warnings name it: "seccomp", "PR_SET_SECCOMP"). */
export function blamesSeccomp(stderr: string): boolean {
  return /seccomp/i.test(stderr);
}

/** The host program a trial run executes: the first of these that exists. */
const TRIAL_PROGRAMS = ["/bin/true", "/usr/bin/true"];

/** Reads Yama's ptrace_scope (undefined without Yama). */
export function readPtraceScope(): number | undefined {
  try {
    const n = Number.parseInt(fs.readFileSync("/proc/sys/kernel/yama/ptrace_scope", "utf8"), 10);
    return Number.isNaN(n) ? undefined : n;
  } catch {
    return undefined;
  }
}

/** Why Yama's ptrace_scope stops PRoot, or undefined when it does not. */
export function ptraceBlock(scope: number | undefined, privileged: boolean): string | undefined {
  if (scope === 3) {
    return "ptrace is disabled on this host (kernel.yama.ptrace_scope = 3, which only a reboot undoes), and PRoot needs it";
  }
  if (scope === 2 && !privileged) {
    return "ptrace is reserved to administrators here (kernel.yama.ptrace_scope = 2), and PRoot needs it; an administrator can set it to 1";
  }
  return undefined;
}

/** What the engine is made with. */
export interface ProotOptions {
  storeRoot: string | undefined;
  env: NodeJS.ProcessEnv;
  /** Whether a candidate binary is executable (tests feed answers). */
  isExecutable?: (file: string) => boolean;
  /** Runs PRoot for `--version`, `--help` and the trial (tests feed outcomes). */
  runner?: ProotRunner;
  /** Yama's ptrace_scope (tests feed values). */
  ptraceScope?: () => number | undefined;
  /** The package root holding vendor/ (default: found from this file's location). */
  packageRoot?: string | undefined;
  /** Whether burrow runs as root. */
  privileged?: boolean;
  /** The variant asked for (`proot:noseccomp`: never use seccomp acceleration); others are refused. */
  variant?: string | undefined;
}

/** The variants the engine reads: `noseccomp` runs PRoot with PROOT_NO_SECCOMP=1 (udocker's P2). */
export const PROOT_VARIANTS: readonly string[] = ["noseccomp"];

/** What a successful probe learnt, for the runs that follow. */
interface Probed {
  binary: string;
  version: string;
  /** Run with PROOT_NO_SECCOMP=1: asked for, or the trial showed seccomp acceleration failing. */
  noSeccomp: boolean;
}

/** Runs RunSpecs under PRoot. */
export class ProotEngine implements Engine {
  readonly name = "proot";
  /** PRoot cannot mount anything: ephemeral runs get a private copy of the image. */
  readonly supportsOverlay = false;
  private readonly opts: ProotOptions;
  private probed: Promise<ProbeResult> | undefined;
  private learnt: Probed | undefined;
  private features: ProotFeatures | undefined;

  constructor(opts: ProotOptions) {
    this.opts = opts;
  }

  /** Where the binary is looked for: BURROW_PROOT, the store's bin/, vendor/linux-<arch>/, PATH. */
  search(env: NodeJS.ProcessEnv = this.opts.env): BinarySearch {
    const pkg = "packageRoot" in this.opts ? this.opts.packageRoot : findPackageRoot();
    return binarySearch({
      name: PROOT_NAME,
      envVar: PROOT_ENV,
      env,
      storeRoot: this.opts.storeRoot,
      packageRoot: pkg,
    });
  }

  private get runner(): ProotRunner {
    return this.opts.runner ?? runCaptured;
  }

  /** Whether the engine can run here (cached for this engine object). */
  probe(): Promise<ProbeResult> {
    this.probed ??= Promise.resolve().then(() => this.probeOnce());
    return this.probed;
  }

  private probeOnce(): ProbeResult {
    const variant = this.opts.variant;
    if (variant !== undefined && !PROOT_VARIANTS.includes(variant)) {
      return {
        ok: false,
        reason: `the proot engine has no variant "${variant}": use proot, or proot:noseccomp for PRoot without seccomp acceleration`,
      };
    }
    const search = this.search();
    const binary = findBinary(search, this.opts.isExecutable ?? isExecutableFile);
    if (binary === undefined) {
      if (search.explicit !== undefined) {
        return {
          ok: false,
          reason: `${PROOT_ENV} names ${search.explicit}, which is not an executable file`,
          binary: search.explicit,
        };
      }
      return {
        ok: false,
        reason:
          "no proot binary (none in the store's bin/, vendor/linux-" +
          `${process.arch}/ or PATH): run \`burrow install\`, or install your distribution's proot package`,
      };
    }
    const privileged = this.opts.privileged ?? process.getuid?.() === 0;
    const blocked = ptraceBlock((this.opts.ptraceScope ?? readPtraceScope)(), privileged);
    if (blocked !== undefined) return { ok: false, reason: blocked, binary };

    const v = this.runner(binary, ["--version"], {});
    const parsed = parseProotVersion(v.stdout + v.stderr);
    if (parsed === undefined) {
      const why =
        v.status === undefined
          ? `cannot run it: ${v.error ?? "it did not start"}`
          : "it prints no PRoot version";
      return { ok: false, reason: `${binary} is not a usable PRoot: ${why}`, binary };
    }

    // One trial run proves ptrace works; with seccomp acceleration built in, a failure that PRoot
    // blames on seccomp is tried once more without it, and the runs that follow go without it too.
    const trueProgram = TRIAL_PROGRAMS.find((p) => fs.existsSync(p)) ?? "/bin/true";
    const tmp = this.opts.env.PROOT_TMP_DIR || os.tmpdir();
    const asked =
      variant === "noseccomp" ||
      (this.opts.env.PROOT_NO_SECCOMP !== undefined && this.opts.env.PROOT_NO_SECCOMP !== "");
    // Without seccomp built in there is nothing to turn off: PROOT_NO_SECCOMP is left out.
    const builtIn = parsed.seccomp !== false;
    let noSeccomp = asked && builtIn;
    const trial = (off: boolean): CapturedRun =>
      this.runner(binary, ["-r", "/", trueProgram], {
        PROOT_TMP_DIR: tmp,
        ...(off ? { PROOT_NO_SECCOMP: "1" } : {}),
      });
    let t = trial(noSeccomp);
    if (builtIn && !noSeccomp && (t.status !== 0 || blamesSeccomp(t.stderr))) {
      const again = trial(true);
      if (again.status === 0) {
        t = again;
        noSeccomp = true;
      }
    }
    if (t.status !== 0) {
      const detail =
        t.status === undefined
          ? (t.error ?? "it did not start")
          : firstLine(t.stderr, `exit status ${t.status}`);
      return {
        ok: false,
        reason: `PRoot cannot trace programs here (is ptrace forbidden, e.g. by a seccomp policy?): ${detail}`,
        binary,
      };
    }
    this.learnt = { binary, version: parsed.version, noSeccomp };
    const accel = !builtIn
      ? "no seccomp acceleration built in"
      : noSeccomp
        ? "seccomp acceleration off"
        : "seccomp acceleration on";
    return { ok: true, binary, version: `${parsed.version} (${accel})` };
  }

  /**
   * The container init (burrow-runc-init: BURROW_RUNC_INIT, the store's bin/, vendor/, PATH) that runs
   * the program, or undefined when it is not built (PRoot then runs the program itself).
   */
  initBinary(env: NodeJS.ProcessEnv = this.opts.env): string | undefined {
    const pkg = "packageRoot" in this.opts ? this.opts.packageRoot : findPackageRoot();
    const search = binarySearch({
      name: "burrow-runc-init",
      envVar: "BURROW_RUNC_INIT",
      env,
      storeRoot: this.opts.storeRoot,
      packageRoot: pkg,
    });
    return findBinary(search, this.opts.isExecutable ?? isExecutableFile);
  }

  /** The options this binary knows beyond PRoot 5.1.0's (one `--help` read, only for newer versions). */
  private featuresOf(binary: string, version: string): ProotFeatures {
    if (this.features === undefined) {
      let killOnExit = false;
      if (versionNumber(version) > 50100)
        killOnExit = this.runner(binary, ["--help"], {}).stdout.includes("--kill-on-exit");
      this.features = { killOnExit };
    }
    return this.features;
  }

  /**
   * PRoot's own port mapping for `-p` (the host's network: a port the program binds is remapped), where
   * this binary has it (`--port`, not in PRoot 5.1.0); `--network none|slirp` and -p elsewhere are refused.
   */
  private portArgs(spec: RunSpec, binary: string): string[] {
    const publish = spec.network?.publish ?? [];
    const hasPort = publish.length > 0 && /--port\b/.test(this.runner(binary, ["--help"], {}).stdout);
    if (publish.length > 0 && !hasPort && spec.network?.mode === "host") {
      throw new InvalidArgumentError(
        `the proot engine cannot publish -p ${publishText(publish[0]!)}: this PRoot has no port mapping (--port); use --engine userns with --network slirp`,
      );
    }
    checkNetwork("proot", spec, ["host"], hasPort);
    for (const p of publish) {
      if (p.hostIp !== "127.0.0.1" && p.hostIp !== "0.0.0.0")
        throw new InvalidArgumentError(
          `the proot engine cannot publish on ${p.hostIp}: PRoot remaps the port on the host's own addresses; give -p HOSTPORT:CONTAINERPORT`,
        );
    }
    // PRoot's `--port IN:OUT`: a bind of port IN inside becomes a bind of port OUT on the host.
    return publish.map((p) => `--port=${p.containerPort}:${p.hostPort}`);
  }

  /** Runs the spec under PRoot with burrow's stdio; resolves to the program's exit status. */
  async run(spec: RunSpec, io: RunIO): Promise<number> {
    checkSupported(spec);
    if (spec.root.kind !== "direct") throw new Error("unreachable: checkSupported refuses overlay roots");
    const probe = await this.probe();
    if (!probe.ok || this.learnt === undefined) {
      throw new EngineUnavailableError(
        `engine proot cannot run here: ${probe.ok ? "its probe found no binary" : probe.reason}`,
      );
    }
    const { binary, version, noSeccomp } = this.learnt;
    const rootfs = spec.root.path;
    const binds = prepareBinds(spec, rootfs, io.scratch);

    // PRoot falls back to / without a word when the working directory is missing: refuse instead.
    const cwd = resolveGuest(rootfs, binds, spec.cwd);
    if (cwd.stat === undefined || !fs.statSync(cwd.host).isDirectory()) {
      throw new ProotRunError(
        `the working directory ${spec.cwd} does not exist in the container (or is not a folder)`,
      );
    }
    // PRoot exits 1 for a program it cannot find or run, like the program's own failure: look it
    // up first, as execvp will inside, so that 126 and 127 mean what they mean with userns.
    const pathVar = spec.env.find((e) => e.startsWith("PATH="))?.slice(5);
    const program = findProgram(rootfs, binds, spec.argv[0]!, pathVar, spec.cwd);
    if (!program.ok) {
      process.stderr.write(`burrow: ${printable(program.message)}\n`);
      return program.status;
    }

    const tmpDir = path.join(io.scratch, "proot-tmp");
    fs.mkdirSync(tmpDir, { recursive: true });
    // The program runs under the container init, which knows its status and ends what it leaves; not
    // with --nosysdirs, whose /dev is the image's own (empty) folder, where the init would show.
    const init = spec.sysdirs ? this.initBinary() : undefined;
    const args = [
      ...this.portArgs(spec, binary),
      ...prootArgs(
        spec,
        init !== undefined ? [...binds, { source: init, destination: INIT_PATH }] : binds,
        this.featuresOf(binary, version),
        init !== undefined ? initWords() : [],
      ),
    ];
    const env = prootEnv(spec.env, { tmpDir, noSeccomp });
    // Limits: PRoot and the program start with them (taskset, prlimit), in the run's cgroup where one is asked.
    const parent = spec.limits?.cgroup?.parent;
    const cgroup =
      parent !== undefined
        ? (await import("../../src/run/cgroup.js")).makeRunCgroup(
            parent,
            spec.limits!.cgroup!,
            `${process.pid}-${Date.now().toString(36)}`,
          )
        : undefined;
    let prefix: string[];
    try {
      prefix = launchPrefix("proot", spec.limits, {
        rlimits: true,
        cgroupDir: cgroup?.dir,
        pathVar: this.opts.env.PATH,
        isExec: this.opts.isExecutable ?? isExecutableFile,
      });
    } catch (err) {
      cgroup?.remove();
      throw err;
    }
    const launch = [...prefix, binary, ...args];
    let child: ChildProcess;
    try {
      child = spawnEngine("proot", binary, launch[0]!, launch.slice(1), {
        // The lifeline (a socket) at LIFELINE_FD: the init's report, and its sign that burrow is gone.
        stdio: init !== undefined ? ["inherit", "inherit", "inherit", "pipe"] : "inherit",
        env,
        cwd: "/",
      });
    } catch (err) {
      cgroup?.remove();
      throw err;
    }
    let reported: number | undefined;
    const lifeline = child.stdio[LIFELINE_FD];
    lifeline?.on("data", (chunk: Buffer) => {
      reported ??= chunk[0];
    });
    lifeline?.on("error", () => undefined);
    child.on("exit", (_code, signal) => {
      cgroup?.remove();
      // PRoot waits for everything it traces, the init included, whose report came first; PRoot
      // killed (`stop`'s SIGKILL) leaves the init running untraced: closing the lifeline has it end
      // the program's process group. A second later the lifeline is closed whatever holds it.
      if (signal !== null) lifeline?.destroy();
      else setTimeout(() => lifeline?.destroy(), 1000).unref();
    });
    // "close": once the lifeline is drained too (the init's report comes before PRoot's end).
    const done = waitForChild(child, "proot", binary, { target: programTarget(child), event: "close" });
    if (child.pid !== undefined) io.onStarted?.({ pid: child.pid });
    // PRoot's own status is the last process's to exit (0 for an orphan killed by the init's SIGQUIT,
    // 255 for a program killed by a signal): the init's report is the program's.
    const status = await done;
    return reported ?? status;
  }

  /** `burrow exec`: a new PRoot on the running container's rootfs and binds (processes are not shared). */
  async exec(container: RunningContainer, exec: ExecSpec, io: RunIO): Promise<number> {
    process.stderr.write(EXEC_NOTICE);
    const spec: RunSpec = {
      ...container.spec,
      argv: exec.argv,
      env: exec.env,
      cwd: exec.cwd,
      uid: exec.uid,
      gid: exec.gid,
      tty: exec.tty,
      fakeRoot: exec.uid === 0,
    };
    return this.run(spec, { scratch: io.scratch, env: io.env });
  }
}

/** The notice `burrow exec` prints with this engine (PRoot has no namespaces to join). */
export const EXEC_NOTICE =
  "burrow: engine proot shares no processes with the running container: the command runs in a new PRoot on its rootfs and binds\n";

/** The engine registry's factory (src/engine-registry.ts). */
export function createEngine(ctx: EngineContext): ProotEngine {
  return new ProotEngine({ storeRoot: ctx.storeRoot, env: ctx.env, variant: ctx.variant });
}
