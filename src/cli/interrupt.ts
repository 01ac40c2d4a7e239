// Leaving nothing half-written behind when a command is interrupted (^C, the scheduler's SIGTERM, a hangup).

/** The signals that end a command, and the status a shell reports for each. */
const ENDING: Readonly<Record<"SIGINT" | "SIGTERM" | "SIGHUP", number>> = {
  SIGHUP: 129,
  SIGINT: 130,
  SIGTERM: 143,
};

/**
 * Until the returned function is called, SIGINT, SIGTERM and SIGHUP `remove` each of `paths()` (best
 * effort, each on its own) and end the process with the status a shell reports for the signal.
 */
export function cleanupOnInterrupt(
  paths: () => Iterable<string>,
  remove: (path: string) => void,
): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    for (const p of paths()) {
      try {
        remove(p);
      } catch {
        // The next command that finds it abandoned removes it.
      }
    }
    process.exit(ENDING[signal as keyof typeof ENDING] ?? 143);
  };
  const signals = Object.keys(ENDING) as NodeJS.Signals[];
  for (const s of signals) process.once(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}

/**
 * cleanupOnInterrupt for what a pull, load or import is staging (src/store/staging.ts, inFlight): its
 * image folders and scratch go at once; what a SIGKILL leaves, the next pull, load or import sweeps.
 */
export async function removeStagingOnInterrupt(): Promise<() => void> {
  const { inFlight } = await import("../store/staging.js");
  const { removeTreeAtomic } = await import("../store/atomic.js");
  return cleanupOnInterrupt(() => inFlight, removeTreeAtomic);
}
