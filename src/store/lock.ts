// Cross-process locks that work on NFS: mkdir is atomic there, flock is not reliable.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomHex } from "./random.js";

/** Waits `ms` milliseconds (node:timers/promises is not loaded for this alone: every command loads this file). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How a lock is held and when a holder is presumed dead. */
export interface LockOptions {
  /** A lock whose heartbeat is older than this is broken (the holder crashed on another node). */
  staleMs?: number;
  /** How often the holder refreshes its heartbeat. */
  heartbeatMs?: number;
  /** Give up waiting after this long (default: wait as long as the holder is alive). */
  timeoutMs?: number;
  /** Called once when we start waiting on another holder. */
  onWait?: (owner: LockOwner | undefined) => void;
}

/** What a lock directory records about its holder. */
export interface LockOwner {
  host: string;
  pid: number;
  token: string;
  since: number;
}

/** A held lock; release it in a `finally`. */
export interface Lock {
  release(): Promise<void>;
}

const HOST = os.hostname();

function readOwner(dir: string): LockOwner | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, "owner"), "utf8")) as LockOwner;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether a lock directory's holder is gone: on this host its pid is dead; anywhere, its heartbeat
 * (the directory's mtime, refreshed by the holder) is older than `staleMs`.
 */
export function lockIsStale(dir: string, staleMs: number, now = Date.now()): boolean {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return false;
  }
  const owner = readOwner(dir);
  if (owner && owner.host === HOST && !pidAlive(owner.pid)) return true;
  // A lock dir without an owner file is being created right now, unless it is old.
  return now - st.mtimeMs > staleMs;
}

/** Breaks a stale lock: rename first (only one breaker wins), then delete. */
function breakLock(dir: string): void {
  const grave = `${dir}.stale-${randomHex(6)}`;
  try {
    fs.renameSync(dir, grave);
  } catch {
    return;
  }
  fs.rmSync(grave, { recursive: true, force: true });
}

/** Takes the lock `name` under `locksDir`, waiting for a live holder and breaking a dead one's. */
export async function acquireLock(locksDir: string, name: string, opts: LockOptions = {}): Promise<Lock> {
  const staleMs = opts.staleMs ?? 30_000;
  const heartbeatMs = opts.heartbeatMs ?? Math.max(1000, Math.floor(staleMs / 6));
  const dir = path.join(locksDir, `${name}.lock`);
  const token = randomHex(8);
  const started = Date.now();
  let delay = 20;
  let told = false;
  fs.mkdirSync(locksDir, { recursive: true });
  while (true) {
    try {
      fs.mkdirSync(dir);
      const owner: LockOwner = { host: HOST, pid: process.pid, token, since: Date.now() };
      fs.writeFileSync(path.join(dir, "owner"), JSON.stringify(owner));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (lockIsStale(dir, staleMs)) {
      breakLock(dir);
      continue;
    }
    if (!told) {
      told = true;
      opts.onWait?.(readOwner(dir));
    }
    if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) {
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for lock ${dir}`);
    }
    await sleep(delay + Math.floor(Math.random() * delay));
    delay = Math.min(delay * 2, 500);
  }
  const beat = setInterval(() => {
    const now = new Date();
    try {
      fs.utimesSync(dir, now, now);
    } catch {
      // The lock was broken under us; release() will notice.
    }
  }, heartbeatMs);
  beat.unref();
  return {
    async release() {
      clearInterval(beat);
      const owner = readOwner(dir);
      if (owner?.token !== token) return;
      const grave = `${dir}.released-${token}`;
      try {
        fs.renameSync(dir, grave);
        fs.rmSync(grave, { recursive: true, force: true });
      } catch {
        // Already gone.
      }
    },
  };
}

/** Runs `fn` while holding the lock `name`. */
export async function withLock<T>(
  locksDir: string,
  name: string,
  fn: () => Promise<T>,
  opts?: LockOptions,
): Promise<T> {
  const lock = await acquireLock(locksDir, name, opts);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
