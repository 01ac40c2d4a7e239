// Per-run scratch space (writable layer, generated files): node-local, never the shared store when avoidable.
import fs from "node:fs";
import path from "node:path";
import { randomHex } from "../store/random.js";
import { removeTreeAtomic } from "../store/atomic.js";
import { ownerTag } from "../store/owner.js";

/** The start of every scratch folder's name, followed by its owner (src/store/owner.ts) and random hex. */
export const SCRATCH_PREFIX = "burrow-run-";

/** The base folder for scratch: `BURROW_TMPDIR`, else `TMPDIR`, else the store's tmp/. */
export function scratchBase(env: NodeJS.ProcessEnv, storeTmp: string): string {
  const pick = env.BURROW_TMPDIR || env.TMPDIR;
  return pick && path.isAbsolute(pick) ? pick : storeTmp;
}

/**
 * What was made in each scratch folder, in order (paths relative to it), so that removing it undoes
 * exactly that, without walking the tree, when nothing else was left there.
 */
const made = new Map<string, string[]>();

/**
 * Makes a private scratch folder (0700) for one run, named after this process (host, pid namespace, pid,
 * start time), so that the next command removes it if this one is killed (src/run/sweep.ts).
 */
export function makeScratch(base: string): string {
  const dir = path.join(base, `${SCRATCH_PREFIX}${ownerTag()}-${randomHex(4)}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    fs.mkdirSync(base, { recursive: true });
    fs.mkdirSync(dir, { mode: 0o700 });
  }
  made.set(dir, []);
  return dir;
}

/**
 * Records `rel` (a file, or a folder when `folder`, inside scratch folder `dir`) as made there; a folder
 * that something else (the kernel's overlay) may make inside one of ours is recorded too, so that it
 * is removed first.
 */
export function noteMade(dir: string, rel: string, folder: boolean): void {
  made.get(dir)?.push(folder ? `${rel}/` : rel);
}

/** Makes folder `rel` inside scratch folder `dir` (its parent exists) and records it. */
export function makeScratchDir(dir: string, rel: string, mode?: number): string {
  const full = path.join(dir, rel);
  fs.mkdirSync(full, mode === undefined ? undefined : { mode });
  noteMade(dir, rel, true);
  return full;
}

/**
 * Undoes what was recorded in `dir`, newest first (missing entries are fine); false when something
 * else is in the way (a file the program left in its layer, an engine's own files).
 */
function removeRecorded(dir: string): boolean {
  const entries = made.get(dir);
  if (entries === undefined) return false;
  try {
    for (let i = entries.length - 1; i >= 0; i--) {
      const rel = entries[i]!;
      try {
        if (rel.endsWith("/")) fs.rmdirSync(path.join(dir, rel));
        else fs.unlinkSync(path.join(dir, rel));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
    fs.rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

/** Removes a scratch folder, including the overlay work dir the kernel leaves mode 000. */
export function removeScratch(dir: string): void {
  try {
    // An engine may have removed it already (the userns helper does, see RunIO.disposableScratch).
    if (fs.existsSync(dir) && !removeRecorded(dir)) removeTreeAtomic(dir);
  } catch {
    // Best effort: a later run's cleanup of stale scratch folders gets it.
  } finally {
    made.delete(dir);
  }
}
