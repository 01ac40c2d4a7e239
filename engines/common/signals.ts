// Passes the signals burrow receives on to an engine's program while it runs, each exactly once where burrow
// can tell, and waits for it: every engine's program (burrow-ns, runc or crun, PRoot) runs as a child of burrow
// this way.
import fs from "node:fs";
import os from "node:os";
import { spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { EngineUnavailableError, InvalidArgumentError } from "../../src/errors.js";

/** The signals a caller (or a terminal) uses to talk to the contained program. */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
];

/**
 * Signals a terminal sends to its whole foreground process group (^C, ^\, a resize, a hangup). When
 * burrow is in that group, so is the helper (it is spawned in burrow's group): it got its own copy.
 */
export const TERMINAL_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set([
  "SIGINT",
  "SIGQUIT",
  "SIGWINCH",
  "SIGHUP",
]);

/** The process group and the terminal's foreground group from a `/proc/PID/stat` line. */
export function parseStat(stat: string): { pgrp: number; ttyNr: number; tpgid: number } | undefined {
  // "pid (comm) state ppid pgrp session tty_nr tpgid ...": comm may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const [pgrp, ttyNr, tpgid] = [fields[2], fields[4], fields[5]].map((f) => Number.parseInt(f ?? "", 10));
  if (pgrp === undefined || ttyNr === undefined || tpgid === undefined) return undefined;
  if (Number.isNaN(pgrp) || Number.isNaN(ttyNr) || Number.isNaN(tpgid)) return undefined;
  return { pgrp, ttyNr, tpgid };
}

/** Whether burrow's process group is the foreground group of its controlling terminal right now. */
export function inForegroundOfTerminal(
  readStat: () => string = () => fs.readFileSync("/proc/self/stat", "utf8"),
): boolean {
  try {
    const s = parseStat(readStat());
    return s !== undefined && s.ttyNr !== 0 && s.tpgid === s.pgrp;
  } catch {
    return false;
  }
}

/** Whether burrow should pass `signal` on, or whether the terminal already delivered it to the helper. */
export function shouldForward(signal: NodeJS.Signals, inForeground: () => boolean): boolean {
  return !(TERMINAL_SIGNALS.has(signal) && inForeground());
}

/**
 * Installs handlers that pass each of FORWARDED_SIGNALS to `child` (burrow itself then survives them
 * and reports the program's status); returns the function that removes them. The foreground check is
 * made when a signal arrives, since a shell can move the job between foreground and background.
 */
export function forwardSignals(
  child: Pick<ChildProcess, "kill" | "exitCode" | "signalCode">,
  inForeground: () => boolean = inForegroundOfTerminal,
): () => void {
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of FORWARDED_SIGNALS) {
    const handler = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (shouldForward(signal, inForeground)) child.kill(signal);
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  return () => {
    for (const [signal, handler] of handlers) process.removeListener(signal, handler);
  };
}

/** The exit status a shell reports for a child that ended with `code` or was killed by `signal`. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + (os.constants.signals[signal] ?? 0);
  return 125;
}

/**
 * Waits for an engine's child (`binary`, just spawned): burrow's signals go to `target` (the child unless
 * told) while it runs; resolves to the status a shell reports, once it has exited (`"exit"`) or also
 * closed its piped output (`"close"`); rejects with the engine's one line when it cannot be started.
 */
export function waitForChild(
  child: ChildProcess,
  engine: string,
  binary: string,
  opts: { target?: Pick<ChildProcess, "kill" | "exitCode" | "signalCode">; event?: "exit" | "close" } = {},
): Promise<number> {
  const stopForwarding = forwardSignals(opts.target ?? child);
  return new Promise<number>((resolve, reject) => {
    child.on("error", (err) => {
      stopForwarding();
      reject(
        new EngineUnavailableError(`engine ${engine} cannot start ${binary}: ${err.message}`, { cause: err }),
      );
    });
    child.on(opts.event ?? "exit", (code: number | null, signal: NodeJS.Signals | null) => {
      stopForwarding();
      resolve(exitStatus(code, signal));
    });
  });
}

/**
 * spawn() for an engine's binary (`file` runs it, perhaps through a launch prefix). Node throws at once,
 * rather than emitting "error", for some failures (E2BIG: arguments and environment over the kernel's
 * limit; a NUL byte in them): each becomes the engine's one line, as waitForChild words the others.
 */
export function spawnEngine(
  engine: string,
  binary: string,
  file: string,
  args: string[],
  options: SpawnOptions,
): ChildProcess {
  try {
    return spawn(file, args, options);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "E2BIG") {
      throw new InvalidArgumentError(
        `engine ${engine} cannot start ${binary}: the command's arguments and environment are larger than the kernel passes to a program (E2BIG): put large values in a file and bind it into the container with -v`,
        { cause: err },
      );
    }
    throw new EngineUnavailableError(`engine ${engine} cannot start ${binary}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
