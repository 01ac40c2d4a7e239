// The request a COPY or ADD step is given (the builder fills it in from the parsed, substituted instruction).
import type { IgnoreMatcher } from "../dockerfile/ignore.js";

/** A numeric owner, as a layer records it. */
export interface Owner {
  uid: number;
  gid: number;
}

/**
 * Where COPY/ADD reads from: the build context (with its .dockerignore) or another root (COPY --from a stage
 * or image); `label` names that root in messages ("stage build", "image alpine:3.20").
 */
export type CopyFrom =
  { kind: "context"; dir: string; ignore: IgnoreMatcher } | { kind: "root"; dir: string; label?: string };

/** One COPY or ADD step. */
export interface CopyRequest {
  /** Host path of the destination stage root. */
  root: string;
  from: CopyFrom;
  /** ADD: a local tar archive source (plain, gzip, bzip2, xz, zstd) is unpacked into dest. */
  add: boolean;
  /** Already variable-substituted words, as written (may contain globs * ? [..]). */
  sources: string[];
  /** Substituted; relative dests are relative to workdir; a trailing "/" means a folder. */
  dest: string;
  /** The stage's WORKDIR, an absolute guest path. */
  workdir: string;
  /** Raw "user[:group]" (names or numbers), resolved through the destination root's /etc/passwd and /etc/group. */
  chown?: string;
  /** Octal mode such as 755 or 0644. */
  chmod?: string;
  /** The instruction's line, for DockerfileError. */
  line: number;
  /** Owners of the guest paths the step creates or replaces ("/app/x": absolute, no trailing slash). */
  owners: Map<string, Owner>;
}
