// Signals for a program under PRoot: PRoot ignores SIGINT, SIGTERM and SIGHUP itself, so they go to its child.
import type { ChildProcess } from "node:child_process";
import { childPids } from "../../src/proc.js";

export { childPids, parentPid } from "../../src/proc.js";

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
