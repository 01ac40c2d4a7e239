// Where a COPY/ADD destination word points: a guest path made absolute against WORKDIR, and whether the word
// says "a folder" (a trailing `/`, or `.` as the last component).
import path from "node:path";

/** The destination of a step. */
export interface DestSpec {
  /** The clean absolute guest path. */
  path: string;
  /** Whether the word itself names a folder (sources are then copied into it under their own names). */
  dirLike: boolean;
}

/** The destination `dest` (already substituted) of a step whose WORKDIR is `workdir`. */
export function destSpec(dest: string, workdir: string): DestSpec {
  const dirLike =
    dest.endsWith("/") || dest === "." || dest.endsWith("/.") || dest === ".." || dest.endsWith("/..");
  return { path: path.posix.resolve("/", workdir, dest), dirLike };
}
