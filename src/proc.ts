// Processes as /proc shows them: parents and children.
import fs from "node:fs";

/** The parent pid from a `/proc/PID/stat` line (the field after `(comm) state`). */
export function parentPid(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ppid = Number.parseInt(fields[1] ?? "", 10);
  return Number.isNaN(ppid) ? undefined : ppid;
}

/**
 * The direct children of `pid` (PRoot's program, the userns helper's init...): reads
 * `/proc/PID/task/PID/children`, else scans `/proc` on kernels without it.
 */
export function childPids(pid: number): number[] {
  try {
    const text = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8");
    return text
      .split(/\s+/)
      .filter((w) => w !== "")
      .map((w) => Number.parseInt(w, 10));
  } catch {
    const out: number[] = [];
    for (const name of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      try {
        if (parentPid(fs.readFileSync(`/proc/${name}/stat`, "utf8")) === pid) out.push(Number(name));
      } catch {
        // It exited meanwhile.
      }
    }
    return out;
  }
}
