// Reads what a PRoot binary is from its `--version` output: version, built-in seccomp, options it knows.
import type { ProotFeatures } from "./args.js";

/** What `proot --version` says. */
export interface ProotVersion {
  /** `5.1.0`, `5.4.0`, ... */
  version: string;
  /** Whether the build has seccomp acceleration (`seccomp_filter = yes`); undefined when it does not say. */
  seccomp: boolean | undefined;
}

/**
 * Parses `proot --version`. Upstream prints an ASCII-art banner ending in the version, then
 * `built-in accelerators: process_vm = yes, seccomp_filter = yes`; other builds print `proot X.Y.Z`.
 */
export function parseProotVersion(out: string): ProotVersion | undefined {
  const m = /(?:^|[\s|_])v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)\b/m.exec(out);
  if (!m) return undefined;
  const sec = /seccomp_filter\s*=\s*(yes|no)/.exec(out);
  return { version: m[1]!, seccomp: sec ? sec[1] === "yes" : undefined };
}

/** `major.minor.patch` as a comparable number (5.1.0 → 50100). */
export function versionNumber(version: string): number {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  return m ? Number(m[1]) * 10000 + Number(m[2]) * 100 + Number(m[3]) : 0;
}

/** The options a PRoot version supports beyond 5.1.0's. */
export function featuresOf(version: string): ProotFeatures {
  return { killOnExit: versionNumber(version) >= 50200 };
}
