// Translates an engine-neutral RunSpec into a PRoot command line (engines/proot/README.md).
import type { RunSpec } from "../../src/engine-interface.js";
import { ProotOptionError } from "./errors.js";
import type { GuestBind } from "./guest-path.js";
import { envObject } from "../common/env.js";

/** What the PRoot binary at hand supports beyond 5.1.0's options. */
export interface ProotFeatures {
  /** `--kill-on-exit` (PRoot 5.2.0 and later). */
  killOnExit: boolean;
}

/** The host directories bound at the same place when the spec asks for system directories. */
export const SYSDIRS: readonly string[] = ["/proc", "/dev", "/sys"];

/** What to use instead: said after each refusal. */
const OTHER_ENGINES = "use --engine userns or --engine runc where they work";

/**
 * Throws ProotOptionError for what PRoot cannot do: a host name, a read-only root or bind. An overlay
 * root is a programming error (the run path copies the image for engines without overlay support).
 */
export function checkSupported(spec: RunSpec): void {
  if (spec.root.kind !== "direct") {
    throw new Error(
      "the proot engine was given an overlay root: it cannot mount overlayfs (supportsOverlay is false), so the run path must give it a direct root",
    );
  }
  if (spec.hostname !== undefined) {
    throw new ProotOptionError(
      `the proot engine cannot honour --hostname ${spec.hostname}: PRoot cannot give the container a host name of its own; leave out --hostname or ${OTHER_ENGINES}`,
    );
  }
  if (spec.root.readonly) {
    throw new ProotOptionError(
      `the proot engine cannot make the container's root read-only: PRoot has no read-only mounts; ${OTHER_ENGINES}`,
    );
  }
  for (const m of spec.mounts) {
    if (m.kind === "bind" && m.readonly) {
      throw new ProotOptionError(
        `the proot engine cannot make -v ${m.source}:${m.destination}:ro read-only: PRoot has no read-only binds; drop :ro or ${OTHER_ENGINES}`,
      );
    }
    if (m.kind === "tmpfs" && m.noexec === true) {
      throw new ProotOptionError(
        `the proot engine cannot make the tmpfs at ${m.destination} noexec (docker's default for --tmpfs): PRoot has no mount flags; add :exec (--tmpfs ${m.destination}:exec) or ${OTHER_ENGINES}`,
      );
    }
  }
  const program = spec.argv[0];
  if (program === undefined) throw new RangeError("the RunSpec has no program to run (argv is empty)");
  if (program.startsWith("-")) {
    throw new ProotOptionError(
      `the proot engine cannot run a program named ${JSON.stringify(program)}: PRoot would read it as its own option; give it as ./${program}`,
    );
  }
}

/**
 * Refuses a path PRoot's `-b HOST:GUEST` cannot carry: it splits at the first `:` and reads a trailing
 * `!` on the guest side as "do not follow symlinks", with no way to escape either.
 */
export function checkBindPath(p: string, what: "source" | "destination"): void {
  if (p.includes(":")) {
    throw new ProotOptionError(
      `the proot engine cannot bind ${p}: PRoot's -b cannot carry a ':' in a ${what} path; rename it or ${OTHER_ENGINES}`,
    );
  }
  if (what === "destination" && p.endsWith("!")) {
    throw new ProotOptionError(
      `the proot engine cannot bind onto ${p}: PRoot reads a trailing '!' as an option; ${OTHER_ENGINES}`,
    );
  }
}

/** The `-b` argument of one bind. */
export function bindArg(b: GuestBind): string {
  checkBindPath(b.source, "source");
  checkBindPath(b.destination, "destination");
  return `${b.source}:${b.destination}`;
}

/** PRoot's identity option: `-0` for root:root, else `-i UID:GID` (a root uid with another gid stays root). */
export function identityArgs(uid: number, gid: number): string[] {
  return uid === 0 && gid === 0 ? ["-0"] : ["-i", `${uid}:${gid}`];
}

/**
 * The PRoot arguments that run `spec` with `binds` (system directories, volumes and emulated tmpfs,
 * already prepared, in order) and the program. PRoot has no `--`: its options end at the first word
 * that is not one, so the program must not start with `-` (checkSupported refuses it). `-v -1` keeps
 * PRoot's notes and warnings off the program's stderr; its fatal errors still show. `-k` is never
 * passed: a faked kernel release breaks glibc images on new kernels. `init` (initWords()) goes before
 * the program when the container init runs it.
 */
export function prootArgs(
  spec: RunSpec,
  binds: readonly GuestBind[],
  features: ProotFeatures,
  init: readonly string[] = [],
): string[] {
  checkSupported(spec);
  if (spec.root.kind !== "direct") throw new Error("unreachable: checkSupported refuses overlay roots");
  const args = ["-v", "-1", "-r", spec.root.path];
  args.push(...identityArgs(spec.uid, spec.gid));
  args.push("-w", spec.cwd);
  for (const b of binds) args.push("-b", bindArg(b));
  if (features.killOnExit) args.push("--kill-on-exit");
  args.push(...init, ...spec.argv);
  return args;
}

/** Where the container init (burrow-runc-init, engines/runc/init.c) is bound in the guest, as with runc. */
export const INIT_PATH = "/dev/.burrow-init";

/** The descriptor of the lifeline socket PRoot and the init inherit (burrow holds its other end). */
export const LIFELINE_FD = 3;

/**
 * The words that run the program under the container init: it forwards signals, reports the program's
 * status on the lifeline (one byte) and then has PRoot kill every process left, and does the same at
 * once when burrow is gone (its end of the lifeline closes).
 */
export function initWords(): string[] {
  return [INIT_PATH, "--init", `--lifeline=${LIFELINE_FD}`, "--proot", "--"];
}

/**
 * PRoot's environment: the program's own (PRoot passes its environment on unchanged), plus where
 * PRoot keeps its temporary files and, when asked, PROOT_NO_SECCOMP=1. Both stay visible inside.
 */
export function prootEnv(
  programEnv: readonly string[],
  opts: { tmpDir: string; noSeccomp: boolean },
): Record<string, string> {
  const out = envObject(programEnv);
  out.PROOT_TMP_DIR = opts.tmpDir;
  if (opts.noSeccomp) out.PROOT_NO_SECCOMP = "1";
  return out;
}
