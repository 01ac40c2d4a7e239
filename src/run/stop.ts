// Stopping a detached container: SIGTERM through its engine, SIGKILL after the grace period, then wait for the clean-up.
import { isAlive, readState, runStatus, writeState } from "./state.js";
import type { ProcessRef } from "./state.js";

/** Sends `signal` to the recorded process when it is still the one recorded. */
function signal(ref: ProcessRef | undefined, sig: NodeJS.Signals): void {
  if (ref === undefined || !isAlive(ref)) return;
  try {
    process.kill(ref.pid, sig);
  } catch {
    // Gone meanwhile.
  }
}

/** Waits until `done()` holds or `ms` pass; whether it holds. */
async function waitFor(done: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * Stops container `id` of the store at `storeRoot`: SIGTERM to its supervisor, which passes it to the
 * engine and so to the program; after `graceMs`, SIGKILL to the container's init and the engine's
 * process. Resolves once the supervisor has cleaned up (or is gone), to what it found.
 */
export async function stopContainer(
  storeRoot: string,
  id: string,
  graceMs: number,
): Promise<"stopped" | "not-running"> {
  const st = runStatus(storeRoot, id);
  if (st.kind !== "running") return "not-running";
  const { state } = st;
  const programGone = (): boolean =>
    !isAlive(state.pid) && (state.init === undefined || !isAlive(state.init));
  // The supervisor forwards SIGTERM to the engine (userns: helper, init, program; runc: the container).
  signal(isAlive(state.supervisor) ? state.supervisor : state.pid, "SIGTERM");
  if (!(await waitFor(programGone, graceMs))) {
    signal(state.init, "SIGKILL");
    if (!(await waitFor(programGone, 2000))) signal(state.pid, "SIGKILL");
    await waitFor(programGone, 5000);
  }
  // The supervisor removes the scratch and records the exit status.
  await waitFor(() => !isAlive(state.supervisor), 10_000);
  const now = readState(storeRoot, id);
  if (now !== undefined && now.exitCode === undefined && now.finished === undefined) {
    writeState(storeRoot, { ...now, finished: new Date().toISOString() });
  }
  return "stopped";
}
