// The run state of detached containers: `<store>/run/detached/<container id>/{state.json,log}`.
import fs from "node:fs";
import path from "node:path";
import type { RunSpec } from "../engine-interface.js";
import { writeFileAtomic } from "../store/atomic.js";

/** A process, named by its pid and its start time (so that a reused pid is not mistaken for it). */
export interface ProcessRef {
  pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks after boot). */
  start: string;
}

/** What a detached run records (written atomically by its supervisor). */
export interface RunState {
  /** The container's id. */
  id: string;
  engine: string;
  /** The burrow process that runs the container and cleans up after it. */
  supervisor: ProcessRef;
  /** The engine's process (signals reach the program through it) and, where there is one, the container's init. */
  pid: ProcessRef;
  init?: ProcessRef | undefined;
  handle?: Record<string, string> | undefined;
  /** What ran; absent when the program ended before the engine saw it run (recorded as it ended). */
  spec?: RunSpec | undefined;
  /** ISO times. */
  started: string;
  finished?: string | undefined;
  /** The program's exit status, once it is gone. */
  exitCode?: number | undefined;
}

/** Where detached runs keep their state: `<store>/run/detached`. */
export function detachedRoot(storeRoot: string): string {
  return path.join(storeRoot, "run", "detached");
}

/** The state folder of container `id`. */
export function stateDir(storeRoot: string, id: string): string {
  return path.join(detachedRoot(storeRoot), id);
}

/** The log file of container `id` (its detached runs' stdout and stderr). */
export function logPath(storeRoot: string, id: string): string {
  return path.join(stateDir(storeRoot, id), "log");
}

/** The start time of process `pid` from /proc/PID/stat, or undefined when there is no such process. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; starttime is field 22.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** A reference to the live process `pid`, or undefined when it is gone. */
export function processRef(pid: number): ProcessRef | undefined {
  const start = processStart(pid);
  return start === undefined ? undefined : { pid, start };
}

/** Whether the process is still the one recorded (alive, and its pid not reused). */
export function isAlive(ref: ProcessRef): boolean {
  return processStart(ref.pid) === ref.start;
}

/** The recorded state of container `id`, or undefined (none, or unreadable). */
export function readState(storeRoot: string, id: string): RunState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir(storeRoot, id), "state.json"), "utf8")) as RunState;
  } catch {
    return undefined;
  }
}

/** Records `state` (readers see the old record or the new one, never a part). */
export function writeState(storeRoot: string, state: RunState): void {
  writeFileAtomic(path.join(stateDir(storeRoot, state.id), "state.json"), JSON.stringify(state) + "\n");
}

/** Where a container stands: running (with the pid of the engine's process), exited, or never run detached. */
export type RunStatus =
  | { kind: "running"; pid: number; state: RunState }
  | { kind: "exited"; exitCode: number | undefined; state: RunState }
  | { kind: "none" };

/**
 * The status of container `id`: running while its engine's process and supervisor are the ones recorded;
 * a record whose processes are gone (a crashed supervisor, a reboot) reads as exited.
 */
export function runStatus(storeRoot: string, id: string): RunStatus {
  const state = readState(storeRoot, id);
  if (state === undefined) return { kind: "none" };
  if (state.exitCode === undefined && state.finished === undefined) {
    if (isAlive(state.pid) || isAlive(state.supervisor))
      return { kind: "running", pid: state.pid.pid, state };
  }
  return { kind: "exited", exitCode: state.exitCode, state };
}

/** Waits until `test()` answers a value (polling every `stepMs`), or `timeoutMs` passes (undefined). */
export async function pollFor<T>(
  test: () => T | undefined,
  timeoutMs: number,
  stepMs = 10,
): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = test();
    if (v !== undefined || Date.now() >= end) return v;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
