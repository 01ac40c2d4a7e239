// Copying a tree as `cp -a` does (modes, times, links, xattrs, overlay whiteouts; reflinks where the file
// system makes them), with the one-line message of each way it fails.
import path from "node:path";
import { execFile, execFileSync } from "node:child_process";
import { StoreError } from "../errors.js";

/** How a copy is made and named in its failure. */
export interface CopyTreeOptions {
  /**
   * The container (a name or id) whose own tree this is: a file in it that the container made unreadable
   * (`chmod 000` as its emulated root) is named, with the `burrow run` command that makes it readable.
   */
  container?: string | undefined;
  /** How the source is named in messages (default: its path, or `container NAME`). */
  label?: string | undefined;
  /** Copy what `from` holds into the existing folder `to`, replacing entries of the same name. */
  into?: boolean | undefined;
}

/** `cp -a`'s arguments for a copy of `from` to `to` (or into it). */
function cpArgs(from: string, to: string, opts: CopyTreeOptions): string[] {
  // A whiteout is a 0/0 character device, which Linux 5.8+ lets anybody make: cp -a copies it.
  return opts.into
    ? ["-a", "--reflink=auto", "--remove-destination", `${from}/.`, `${to}/`]
    : ["-a", "--reflink=auto", from, to];
}

/** Copies the tree `from` to `to` (a new path; with `into`, an existing folder); a failure is one StoreError. */
export function copyTree(from: string, to: string, opts: CopyTreeOptions = {}): void {
  try {
    execFileSync("cp", cpArgs(from, to, opts), { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    throw copyFailure(from, to, opts, err);
  }
}

/** copyTree without blocking: other work (reading layers, another stage's steps) goes on meanwhile. */
export function copyTreeAsync(from: string, to: string, opts: CopyTreeOptions = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("cp", cpArgs(from, to, opts), { maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
      if (err) reject(copyFailure(from, to, opts, Object.assign(err, { stderr })));
      else resolve();
    });
  });
}

/** The one line for a failed `cp -a`, from what cp printed. */
export function copyFailure(from: string, to: string, opts: CopyTreeOptions, err: unknown): StoreError {
  const text = String((err as { stderr?: unknown }).stderr ?? "");
  const { container } = opts;
  const what = opts.label ?? (container !== undefined ? `container ${container}` : from);
  const quoted = /^cp: cannot [^']*'(.+)'[^\n]*: Permission denied$/m.exec(text)?.[1];
  const denied = quoted !== undefined ? path.normalize(quoted) : undefined;
  if (denied !== undefined && denied.startsWith(`${from}/`)) {
    const inside = denied.slice(from.length);
    const fix =
      container !== undefined
        ? `make it readable inside the container (burrow run ${container} chmod -R u+rwX ${shellWord(inside)}) and retry`
        : `make it readable (chmod -R u+rwX ${shellWord(denied)}) and retry`;
    return new StoreError(`cannot copy ${what}: ${inside} in it cannot be read (permission denied): ${fix}`, {
      cause: err,
    });
  }
  if (/No space left on device|Disk quota exceeded/.test(text)) {
    return new StoreError(
      `cannot copy ${what}: no space left on the store's file system: free some space and retry`,
      { cause: err },
    );
  }
  const first = /^cp: (.*)$/m.exec(text)?.[1] ?? (err as Error).message;
  return new StoreError(`cannot copy ${what} to ${to}: ${first}`, { cause: err });
}

/** A path as one shell word (quoted when it holds anything but safe characters). */
function shellWord(p: string): string {
  return /^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, "'\\''")}'`;
}
