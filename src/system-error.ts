// A system call's failure (Node's errno errors: EACCES, ENOSPC, E2BIG...) as one line a user can act on.

/** Node's error for a failed system call: `code` such as "EACCES", the call, and the path(s). */
interface SystemError extends Error {
  code: string;
  syscall?: string;
  path?: string;
  dest?: string;
}

/** What to do about each kind of failure, after the failure itself. */
const ADVICE: Record<string, string> = {
  EACCES: "check the permissions of that path and of the folders above it",
  EPERM: "check the permissions of that path and of the folders above it",
  EROFS: "that file system is read-only: use a writable one (--repo DIR or BURROW_DIR for the store)",
  ENOSPC: "no space is left on that file system: free some space and retry",
  EDQUOT: "your disk quota is used up on that file system: free some space and retry",
  ENOENT: "it does not exist: check the path",
  ENOTDIR: "a part of that path is a file, not a folder: check the path",
  EISDIR: "that is a folder, not a file: check the path",
  ELOOP: "that path goes through too many symbolic links: check the path",
  ENAMETOOLONG: "that path or a name in it is too long",
  EEXIST: "it exists already",
  EMFILE: "too many open files: raise the limit (ulimit -n) and retry",
  ENFILE: "the system has too many open files: retry later",
  E2BIG: "the arguments and environment are larger than the kernel accepts: pass large values in a file",
  EIO: "the file system reported an input/output error: check the disk",
  ENOMEM: "the system is out of memory",
};

/** The words for a system error, without Node's code, call and path decorations ("permission denied"). */
export function errnoReason(err: unknown): string {
  const e = err as Partial<SystemError> | null;
  const m = /^[A-Z0-9]+: ([^,]+)/.exec(e?.message ?? "");
  return m ? m[1]! : (e?.code ?? e?.message ?? String(err));
}

/** Whether `err` is Node's error for a failed system call. */
export function isSystemError(err: unknown): err is SystemError {
  const e = err as Partial<SystemError> | null;
  return (
    err instanceof Error &&
    typeof e?.code === "string" &&
    /^E[A-Z0-9]+$/.test(e.code) &&
    typeof e.syscall === "string"
  );
}

/**
 * One line for a failed system call: what burrow was doing (the call and the path), why it failed, and
 * what to do; undefined for anything else.
 */
export function systemErrorLine(err: unknown): string | undefined {
  if (!isSystemError(err)) return undefined;
  const call = err.syscall ?? "";
  const target =
    err.path !== undefined ? ` ${err.path}${err.dest !== undefined ? ` to ${err.dest}` : ""}` : "";
  const advice = ADVICE[err.code];
  return `cannot ${call}${target}: ${errnoReason(err)}${advice !== undefined ? `; ${advice}` : ""}`;
}
