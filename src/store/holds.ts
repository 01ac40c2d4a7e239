// Runs hold the images they use: `rmi` of a held image removes its names at once and marks it removed;
// its files go when the last run that holds it ends (that run removes it, or the next command's sweep
// once the holder is dead), so a run never loses its root from under it.
//
// `<store>/holds/<image id>.<pid>.<start>.<random>@<host>`: an empty file per run (start: the process's
// start time, so that a reused pid holds nothing). `<store>/holds/<image id>.removed`: `rmi` removed
// the image's last name while runs held it or containers used it (they keep it until the last goes). A run writes its hold, then looks for the mark; `rmi`
// writes the mark, then looks for holds: one of the two always sees the other (and when the run sees
// the mark, it settles under the store's gc lock, where `rmi` deletes).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomHex } from "./random.js";
import { processStart } from "../run/state.js";
import { processGone } from "./abandoned.js";
import { removeTreeAtomic } from "./atomic.js";
import { withLock } from "./lock.js";
import type { Store } from "./store.js";
import { ImageNotFoundError, StoreError, storeFailure } from "../errors.js";

const HOST = os.hostname();
/** How often a holder refreshes its hold's time, for stores shared between hosts. */
const HEARTBEAT_MS = 60_000;
/** A hold of another host whose time is older than this is dead (its host crashed, its run was killed). */
export const HOLD_STALE_MS = 10 * HEARTBEAT_MS;

const HOLD_RE = /^([a-f0-9]{64})\.(\d+)\.(\d+|x)\.[a-f0-9]+@(.+)$/;
const REMOVED_RE = /^([a-f0-9]{64})\.removed$/;

/** A run's hold on an image; release it when the run ends. */
export interface ImageHold {
  /** Drops the hold, and removes the image when `rmi` removed it meanwhile and nothing else holds it. */
  release(): Promise<void>;
}

/** The error for a store a run cannot write in (read-only mount, chmod a-w): one line that says what to do. */
function unwritable(store: Store, what: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const root = store.paths.root;
  if (code === "EROFS") {
    return new StoreError(
      `${what}: the store ${root} is on a read-only file system, and a run writes in it: use a writable store (BURROW_DIR, --repo)`,
      { cause: err },
    );
  }
  if (code === "EACCES" || code === "EPERM") {
    return new StoreError(
      `${what}: the store ${root} is not writable by you, and a run writes in it: make it writable (chmod -R u+w ${root}) or use another store (BURROW_DIR, --repo)`,
      { cause: err },
    );
  }
  return storeFailure(`${what}: cannot write in the store ${root}`, err);
}

/** The holds folder of a store. */
export function holdsDir(store: Store): string {
  return path.join(store.paths.root, "holds");
}

/** The mark `rmi` leaves on a removed image that runs still hold. */
function removedMark(store: Store, id: string): string {
  return path.join(holdsDir(store), `${id}.removed`);
}

/** Whether a hold (its file name, and its time) belongs to a live run. */
export function holdIsLive(name: string, mtimeMs: () => number, now = Date.now()): boolean {
  const m = HOLD_RE.exec(name);
  if (!m) return false;
  if (m[4] !== HOST) return now - mtimeMs() < HOLD_STALE_MS;
  const pid = Number(m[2]);
  if (m[3] === "x") return !processGone(pid);
  return processStart(pid) === m[3];
}

/** The live holds on image `id`; the dead ones met are deleted. */
export function liveHolds(store: Store, id?: string): string[] {
  const dir = holdsDir(store);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const live: string[] = [];
  for (const n of names) {
    const m = HOLD_RE.exec(n);
    if (!m || (id !== undefined && m[1] !== id)) continue;
    const file = path.join(dir, n);
    const mtime = (): number => fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (holdIsLive(n, mtime)) live.push(n);
    else fs.rmSync(file, { force: true });
  }
  return live;
}

/**
 * Takes a hold on image `id` for this process, before the run uses its files. Fails (the image is
 * gone) only when `rmi` deleted it at this very moment.
 */
export async function holdImage(store: Store, id: string): Promise<ImageHold> {
  const dir = holdsDir(store);
  const start = processStart(process.pid) ?? "x";
  const file = path.join(dir, `${id}.${process.pid}.${start}.${randomHex(4)}@${HOST}`);
  try {
    try {
      fs.closeSync(fs.openSync(file, "wx", 0o644));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      fs.mkdirSync(dir, { mode: 0o755 });
      fs.closeSync(fs.openSync(file, "wx", 0o644));
    }
  } catch (err) {
    throw unwritable(store, `cannot run image ${id.slice(0, 12)}`, err);
  }
  const drop = (): void => fs.rmSync(file, { force: true });
  // The hold is written; now the image must be there and not removed (see the top of this file).
  const present = (): boolean => fs.existsSync(path.join(store.imageDir(id), "image.json"));
  if (!present() || fs.existsSync(removedMark(store, id))) {
    const there = await withLock(store.paths.locks, "gc", () => Promise.resolve(present()));
    if (!there) {
      drop();
      throw new ImageNotFoundError(
        `image ${id.slice(0, 12)} was removed from the store as this run started: pull it again`,
      );
    }
  }
  // A store shared between hosts sees the hold alive while its time is fresh.
  const beat = setInterval(() => {
    const now = new Date();
    try {
      fs.utimesSync(file, now, now);
    } catch {
      // Swept by a command that took us for dead; nothing to do until release.
    }
  }, HEARTBEAT_MS);
  beat.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      drop();
      if (fs.existsSync(removedMark(store, id))) await finishRemoval(store, id);
    },
  };
}

/**
 * Marks image `id` removed (its last name is gone) and deletes it unless live runs hold it or containers
 * were made from it (as udocker's rmi: the name goes, the containers keep what they need); returns the
 * blobs freed, or undefined when it is kept (the last run or container to go deletes it).
 */
export async function removeImageUnlessHeld(store: Store, id: string): Promise<string[] | undefined> {
  const mark = removedMark(store, id);
  try {
    fs.writeFileSync(mark, "");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    fs.mkdirSync(holdsDir(store), { recursive: true, mode: 0o755 });
    fs.writeFileSync(mark, "");
  }
  const { containersOf } = await import("./containers.js");
  const containers = containersOf(store.paths);
  const gone = await withLock(store.paths.locks, "gc", () => {
    if (liveHolds(store, id).length > 0) return Promise.resolve(false);
    if (containers.list().some((c) => c.image === id)) return Promise.resolve(false);
    removeTreeAtomic(store.imageDir(id));
    fs.rmSync(mark, { force: true });
    return Promise.resolve(true);
  });
  return gone ? store.collectBlobs() : undefined;
}

/**
 * Deletes image `id`, marked removed, once nothing uses it: no name, no container, no live hold, no pull
 * or load of it under way (their blob claims). A name given to it again clears the mark instead; while
 * containers use it, it stays marked (the removal of the last of them, or the next sweep, deletes it).
 */
export async function finishRemoval(store: Store, id: string): Promise<boolean> {
  const mark = removedMark(store, id);
  const { containersOf } = await import("./containers.js");
  const containers = containersOf(store.paths);
  const gone = await withLock(store.paths.locks, "gc", () => {
    if (!fs.existsSync(mark)) return Promise.resolve(false);
    const image = store.readImage(id);
    const named = store.listRefs().some((r) => r.image === id);
    const used = containers.list().some((c) => c.image === id);
    if (!image || named) {
      // Gone already, or wanted again (a new name): no longer removed.
      fs.rmSync(mark, { force: true });
      return Promise.resolve(false);
    }
    if (used) return Promise.resolve(false);
    if (liveHolds(store, id).length > 0) return Promise.resolve(false);
    if (store.claimedDigests().has(image.configDigest.slice("sha256:".length))) return Promise.resolve(false);
    removeTreeAtomic(store.imageDir(id));
    fs.rmSync(mark, { force: true });
    return Promise.resolve(true);
  });
  if (gone) await store.collectBlobs();
  return gone;
}

/** The images `rmi` removed that runs still hold (listed nowhere; they go when those runs end). */
export function removedImages(store: Store): Set<string> {
  try {
    return new Set(
      fs
        .readdirSync(holdsDir(store))
        .map((n) => REMOVED_RE.exec(n)?.[1])
        .filter((id): id is string => id !== undefined),
    );
  } catch {
    return new Set();
  }
}

/**
 * The next command's sweep: deletes dead runs' holds, then every removed image that no live run holds
 * any more. One readdir when there is nothing to do.
 */
export async function sweepHolds(store: Store): Promise<void> {
  for (const id of removedImages(store)) {
    if (liveHolds(store, id).length > 0) continue;
    try {
      await finishRemoval(store, id);
    } catch {
      // Best effort: the next command tries again.
    }
  }
}
