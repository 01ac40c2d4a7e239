// Work left in the store by a burrow process that died (killed mid-pull, mid-load, mid-import).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** Whether process `pid` of this host is gone (a process of another user counts as alive). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "EPERM";
  }
}

/**
 * Calls `remove` on each entry of `dir` whose name `pattern` matches with this host's name (group 1) and
 * the pid (group 2) of a process that is gone; entries of other hosts (a shared store) are left alone.
 */
export function removeAbandoned(dir: string, pattern: RegExp, remove: (entry: string) => void): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const host = os.hostname();
  for (const n of names) {
    const m = pattern.exec(n);
    if (!m || m[1] !== host || !processGone(Number(m[2]))) continue;
    try {
      remove(path.join(dir, n));
    } catch {
      // Another cleaner got there first.
    }
  }
}
