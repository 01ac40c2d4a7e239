// Per-run scratch space (writable layer, generated files): node-local, never the shared store when avoidable.
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { removeTreeAtomic } from "../store/atomic.js";

/** The base folder for scratch: `BURROW_TMPDIR`, else `TMPDIR`, else the store's tmp/. */
export function scratchBase(env: NodeJS.ProcessEnv, storeTmp: string): string {
  const pick = env.BURROW_TMPDIR || env.TMPDIR;
  return pick && path.isAbsolute(pick) ? pick : storeTmp;
}

/** Makes a private scratch folder (0700) for one run. */
export function makeScratch(base: string): string {
  fs.mkdirSync(base, { recursive: true });
  const dir = path.join(base, `burrow-run-${process.pid}-${randomBytes(4).toString("hex")}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/** Removes a scratch folder, including the overlay work dir the kernel leaves mode 000. */
export function removeScratch(dir: string): void {
  try {
    removeTreeAtomic(dir);
  } catch {
    // Best effort: a later run's cleanup of stale scratch folders gets it.
  }
}
