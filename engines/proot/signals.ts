// Signals for a program under PRoot: PRoot ignores SIGINT, SIGTERM and SIGHUP itself, so they go to its child.
import fs from "node:fs";
import type { ChildProcess } from "node:child_process";

/** The parent pid from a `/proc/PID/stat` line (the field after `(comm) state`). */
export function parentPid(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ppid = Number.parseInt(fields[1] ?? "", 10);
  return Number.isNaN(ppid) ? undefined : ppid;
}

/**
 * The direct children of `pid`: PRoot's only child is the program it started (the processes the
 * program forks are the program's children; ptrace does not reparent them). Reads
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

/** How long a signal waits for PRoot to start the program before it is dropped. */
const START_WAIT_MS = 2000;

/**
 * What userns's forwardSignals is given instead of the PRoot child itself: `kill` sends the signal to
 * PRoot's child (the program), and, while PRoot has not started it yet, tries again every 10 ms.
 * PRoot installs SIG_IGN for SIGINT, SIGTERM, SIGHUP and the like, and prints its own state on
 * SIGUSR1/SIGUSR2: a signal sent to PRoot would never reach the program.
 */
export function programTarget(
  proot: Pick<ChildProcess, "pid" | "exitCode" | "signalCode">,
  children: (pid: number) => number[] = childPids,
): Pick<ChildProcess, "kill" | "exitCode" | "signalCode"> {
  const send = (signal: NodeJS.Signals, deadline: number): void => {
    if (proot.pid === undefined || proot.exitCode !== null || proot.signalCode !== null) return;
    const pids = children(proot.pid);
    if (pids.length === 0) {
      if (Date.now() < deadline) setTimeout(() => send(signal, deadline), 10).unref();
      return;
    }
    for (const p of pids) {
      try {
        process.kill(p, signal);
      } catch {
        // It exited meanwhile.
      }
    }
  };
  return {
    kill: (signal?: NodeJS.Signals | number): boolean => {
      send(typeof signal === "string" ? signal : "SIGTERM", Date.now() + START_WAIT_MS);
      return true;
    },
    get exitCode() {
      return proot.exitCode;
    },
    get signalCode() {
      return proot.signalCode;
    },
  };
}
