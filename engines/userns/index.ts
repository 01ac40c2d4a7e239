// The userns engine: runs a RunSpec through burrow-ns, the static C helper (user + mount [+ pid, uts] namespaces).
import { runCaptured as captured } from "../../src/captured-run.js";
import type { CapturedRun } from "../../src/captured-run.js";

import path from "node:path";
import type {
  Engine,
  ExecSpec,
  ProbeResult,
  RunIO,
  RunningContainer,
  RunSpec,
} from "../../src/engine-interface.js";
import { EngineUnavailableError, InvalidArgumentError } from "../../src/errors.js";
import { findPackageRoot } from "../../src/package-info.js";
import { fileIdentity, fileProbeCache } from "../../src/run/probe-cache.js";
import type { ProbeCache } from "../../src/run/probe-cache.js";
import { HELPER_INTERFACE, helperArgs } from "./args.js";
import { envObject } from "../common/env.js";
import { checkNetwork } from "../../src/run/network.js";
import { findHelper, helperSearch, HELPER_NAME, isExecutableFile } from "../common/burrow-ns-locate.js";
import type { HelperSearch } from "../common/burrow-ns-locate.js";
import { spawnEngine, waitForChild } from "../common/signals.js";

export { exitStatus } from "../common/signals.js";
import {
  explainUsernsFailure,
  readProcSys,
  readUsernsSysctls,
  sysctlBlock,
} from "../common/userns-sysctl.js";
import type { SysctlReader, UsernsSysctls } from "../common/userns-sysctl.js";

/** What the engine is made with: the store root (for its `bin/`) and burrow's environment. */
export interface UsernsOptions {
  storeRoot: string | undefined;
  env: NodeJS.ProcessEnv;
  /** Reads `/proc/sys` settings (tests feed values). */
  readSysctl?: SysctlReader;
  /** Whether a candidate binary is executable (tests feed answers). */
  isExecutable?: (file: string) => boolean;
  /** Runs the helper once to prove namespaces work (tests feed outcomes). */
  trial?: (helper: string) => Promise<TrialResult>;
  /** The package root holding vendor/ (default: found from this file's location). */
  packageRoot?: string | undefined;
  /** Whether burrow runs as root (Debian's sysctl does not stop root). */
  privileged?: boolean;
  /**
   * Keeps a successful probe for the boot (createEngine: a file in the store's tmp/), so that a run does
   * not repeat the trial run; none by default.
   */
  probeCache?: ProbeCache | undefined;
}

/** The outcome of one trial run of the helper. */
export type TrialResult = CapturedRun;

/** The exit status burrow-ns reserves for its own failures (EXIT_HELPER in burrow-ns.h). */
const HELPER_FAILED = 125;

/** Runs `helper ARGS` with an empty environment and collects its output. */
function runCaptured(helper: string, args: string[]): TrialResult {
  return captured(helper, args, {});
}

/**
 * The cheapest run that proves user and mount namespaces work: the helper's own folder becomes the
 * root (one bind, no submounts), and the helper, static, prints its version from inside. A dynamic
 * build cannot start in there (no loader): status 127 still proves the namespaces and pivot_root.
 */
export async function trialRun(helper: string): Promise<TrialResult> {
  return runCaptured(helper, [
    `--rootfs=${path.dirname(helper)}`,
    "--",
    `/${path.basename(helper)}`,
    "--version",
  ]);
}

/** The version from `burrow-ns VERSION (interface N)`. */
export function parseVersion(out: string): { version: string; interface: number } | undefined {
  const m = /^burrow-ns (\S+) \(interface (\d+)\)/m.exec(out);
  return m ? { version: m[1]!, interface: Number.parseInt(m[2]!, 10) } : undefined;
}

/** The first line of the helper's stderr, or a stand-in. */
function firstLine(text: string, fallback: string): string {
  const line = text.split("\n").find((l) => l.trim() !== "");
  return line?.trim() ?? fallback;
}

/** Runs RunSpecs in unprivileged user namespaces through burrow-ns. */
export class UsernsEngine implements Engine {
  readonly name = "userns";
  /** burrow-ns mounts kernel overlayfs inside the user namespace (`--overlay`). */
  readonly supportsOverlay = true;
  readonly supportsFuseOverlay = true;
  readonly supportsSquashfs = true;
  private readonly opts: UsernsOptions;
  private probed: Promise<ProbeResult> | undefined;
  /** The probe's result came from the cache (no trial run in this process). */
  private fromCache = false;
  private pkgRoot: string | null | undefined;

  constructor(opts: UsernsOptions) {
    this.opts = opts;
  }

  /** The package root holding vendor/ and engines/, or undefined when it cannot be found. */
  packageRoot(): string | undefined {
    this.pkgRoot ??= ("packageRoot" in this.opts ? this.opts.packageRoot : findPackageRoot()) ?? null;
    return this.pkgRoot ?? undefined;
  }

  /** Where the helper is looked for, with `env`'s BURROW_NS and PATH. */
  search(env: NodeJS.ProcessEnv = this.opts.env): HelperSearch {
    return helperSearch({ env, storeRoot: this.opts.storeRoot, packageRoot: this.packageRoot() });
  }

  /** The helper this engine would run, or undefined when none is found. */
  helper(env: NodeJS.ProcessEnv = this.opts.env): string | undefined {
    return findHelper(this.search(env), this.opts.isExecutable ?? isExecutableFile);
  }

  /** Whether the engine can run here (cached for this engine object: one trial run per process). */
  probe(): Promise<ProbeResult> {
    this.probed ??= this.probeOnce();
    return this.probed;
  }

  private async probeOnce(): Promise<ProbeResult> {
    const search = this.search();
    const helper = findHelper(search, this.opts.isExecutable ?? isExecutableFile);
    if (helper === undefined) {
      if (search.explicit !== undefined) {
        return {
          ok: false,
          reason: `BURROW_NS names ${search.explicit}, which is not an executable file`,
          binary: search.explicit,
        };
      }
      const pkg = this.packageRoot();
      const src = pkg ? path.join(pkg, "engines", "userns") : "engines/userns";
      return {
        ok: false,
        reason:
          `the ${HELPER_NAME} helper is not built (no store bin/, vendor/linux-${process.arch}/ or PATH copy); ` +
          `build it with \`make -C ${src}\` (needs a C compiler), or another engine will be chosen`,
      };
    }
    const sysctls = readUsernsSysctls(this.opts.readSysctl ?? readProcSys);
    const privileged = this.opts.privileged ?? process.getuid?.() === 0;
    const blocked = sysctlBlock(sysctls, privileged);
    if (blocked !== undefined) return { ok: false, reason: blocked, binary: helper };

    // A trial run that succeeded earlier in this boot, with the same helper and settings, still holds.
    const cache = this.opts.probeCache;
    const identity = cache !== undefined ? fileIdentity(helper) : undefined;
    const key =
      identity !== undefined
        ? `${HELPER_INTERFACE} ${privileged} ${JSON.stringify(sysctls)} ${identity}`
        : undefined;
    const cached = key !== undefined ? cache?.read(key) : undefined;
    if (cached?.ok === true && cached.binary === helper) {
      this.fromCache = true;
      return cached;
    }
    const result = await this.trialProbe(helper, sysctls);
    if (key !== undefined && result.ok) cache?.write(key, result);
    return result;
  }

  /** The probe's trial run of `helper`, and what it says. */
  private async trialProbe(helper: string, sysctls: UsernsSysctls): Promise<ProbeResult> {
    const trial = await (this.opts.trial ?? trialRun)(helper);
    if (trial.status === undefined) {
      return {
        ok: false,
        reason: `cannot run ${helper}: ${trial.error ?? "it did not start"}`,
        binary: helper,
      };
    }
    if (trial.status !== 0 && trial.status !== 127) {
      const detail = firstLine(trial.stderr, `exit status ${trial.status}`);
      return { ok: false, reason: explainUsernsFailure(sysctls, detail), binary: helper };
    }
    let parsed = parseVersion(trial.stdout);
    if (parsed === undefined) {
      // A dynamic build could not start inside its own folder: ask it outside.
      const outside = runCaptured(helper, ["--version"]);
      parsed = parseVersion(outside.stdout);
    }
    if (parsed === undefined) {
      return {
        ok: false,
        reason: `${helper} does not print a burrow-ns version: is it burrow-ns?`,
        binary: helper,
      };
    }
    if (parsed.interface !== HELPER_INTERFACE) {
      return {
        ok: false,
        reason:
          `${helper} speaks interface ${parsed.interface} but this burrow needs interface ${HELPER_INTERFACE}; ` +
          "rebuild it with `make -C engines/userns` from this burrow's package",
        binary: helper,
      };
    }
    return { ok: true, binary: helper, version: `${parsed.version} (interface ${parsed.interface})` };
  }

  /** Runs the spec through the helper with burrow's stdio; resolves to the program's exit status. */
  async run(spec: RunSpec, io: RunIO): Promise<number> {
    const probed = this.probed ? await this.probed : undefined;
    const helper = probed?.ok ? probed.binary : this.helper(io.env);
    if (helper === undefined) {
      throw new EngineUnavailableError(
        `engine userns cannot run here: the ${HELPER_NAME} helper is not built; build it with \`make -C engines/userns\``,
      );
    }
    checkNetwork("userns", spec, ["host", "none", "slirp"]);
    const args = helperArgs(spec, io.scratch, io.disposableScratch === true);
    const env = envObject(spec.env);
    // slirp4netns and the cgroup limits run beside the helper (src/run/sidecar.ts), loaded only for them.
    const side =
      spec.network?.mode === "slirp" || spec.limits?.cgroup !== undefined
        ? await (await import("../../src/run/sidecar.js")).helperSidecar(spec, io)
        : undefined;
    if (side !== undefined) args.unshift(...side.args);
    else io.onHelper?.({ helper, args, env: Object.entries(env).map(([k, v]) => `${k}=${v}`) });
    return new Promise<number>((resolve, reject) => {
      const child = spawnEngine("userns", helper, helper, args, {
        stdio: side?.stdio ?? "inherit",
        env,
        cwd: "/",
      });
      side?.attach(child, reject);
      const done = waitForChild(child, "userns", helper);
      if (io.onStarted !== undefined && child.pid !== undefined) reportStarted(child.pid, spec, io.onStarted);
      done.then((status) => {
        // The helper itself failed (its `burrow-ns:` line is on stderr) after a probe taken from the
        // cache: what the cache vouched for may have changed, so the next run probes again.
        if (status === HELPER_FAILED && this.fromCache) this.opts.probeCache?.clear();
        if (side === undefined) resolve(status);
        else void side.finish().then(() => resolve(status), reject);
      }, reject);
    });
  }

  /** Runs a program inside a running container (`burrow exec`); resolves to its exit status. */
  async exec(container: RunningContainer, exec: ExecSpec, io: RunIO): Promise<number> {
    const helper = this.helper(io.env);
    if (helper === undefined) {
      throw new EngineUnavailableError(
        `engine userns cannot run here: the ${HELPER_NAME} helper is not built; build it with \`make -C engines/userns\``,
      );
    }
    return joinContainer(helper, container, exec);
  }
}

/**
 * Reports the container's processes once the program runs: with a pid namespace, the helper's child
 * (the container's init) once init has forked the program (its mounts and pivot_root are done); without
 * one, the helper itself once it has exec'd the program. Given up quietly after 10 s.
 */
function reportStarted(helperPid: number, spec: RunSpec, onStarted: NonNullable<RunIO["onStarted"]>): void {
  void (async () => {
    const { pollFor } = await import("../../src/run/state.js");
    const { childPids } = await import("../../src/proc.js");
    const fs = await import("node:fs");
    const found = await pollFor(() => {
      if (!spec.pidNamespace) {
        // The helper's own name until it execs the program.
        const comm = fs.readFileSync(`/proc/${helperPid}/comm`, "utf8").trim();
        return comm !== HELPER_NAME.slice(0, 15) ? helperPid : undefined;
      }
      const init = childPids(helperPid)[0];
      return init !== undefined && childPids(init).length > 0 ? init : undefined;
    }, 10_000).catch(() => undefined);
    if (found !== undefined) onStarted({ pid: helperPid, initPid: found });
  })();
}

/** `burrow exec` through the helper's --join: the program enters the running container's namespaces and root. */
async function joinContainer(helper: string, container: RunningContainer, exec: ExecSpec): Promise<number> {
  const { spec, started } = container;
  if (started.initPid === undefined) {
    throw new EngineUnavailableError("engine userns recorded no process of this container to join");
  }
  if (exec.uid !== spec.uid || exec.gid !== spec.gid) {
    throw new InvalidArgumentError(
      `engine userns maps one user in a container: exec runs as ${spec.uid}:${spec.gid}, the container's own user, not ${exec.uid}:${exec.gid}`,
    );
  }
  const args = [`--join=${started.initPid}`, `--cwd=${exec.cwd}`];
  // On a SquashFS root, a non-root user lives in a namespace nested in the container's (engines/userns/main.c,
  // nested_ids): the joined program makes its own the same way.
  const nested = spec.root.kind === "overlay" && spec.root.squashfs !== undefined && spec.realIds !== true;
  if (nested && (spec.uid !== 0 || spec.gid !== 0)) args.push(`--uid=${spec.uid}`, `--gid=${spec.gid}`);
  if (spec.fakeRoot) args.push("--fake-root");
  args.push("--", ...exec.argv);
  const child = spawnEngine("userns", helper, helper, args, {
    stdio: "inherit",
    env: envObject(exec.env),
    cwd: "/",
  });
  return waitForChild(child, "userns", helper);
}

/** The engine registry's factory (src/engine-registry.ts). */
export function createEngine(ctx: { storeRoot: string | undefined; env: NodeJS.ProcessEnv }): UsernsEngine {
  const probeCache =
    ctx.storeRoot !== undefined ? fileProbeCache(path.join(ctx.storeRoot, "tmp"), "userns") : undefined;
  return new UsernsEngine({ storeRoot: ctx.storeRoot, env: ctx.env, probeCache });
}
