// A successful engine probe kept for the rest of the boot, so that a run does not start the engine's
// helper once more just to learn what the previous run learnt: a small file in the store's tmp/, keyed
// by the boot (/proc/sys/kernel/random/boot_id) and by what the engine says the result depends on (its
// binary's path, mtime, size and inode, the settings it read). Any change of the key probes again;
// failed probes are never kept, so their reasons are always fresh.
import fs from "node:fs";
import path from "node:path";
import type { ProbeResult } from "../engine-interface.js";
import { randomHex } from "../store/random.js";

/** Where a probe result is kept, read back only under the same key. */
export interface ProbeCache {
  read(key: string): ProbeResult | undefined;
  write(key: string, result: ProbeResult): void;
  /** Forgets the kept result (the engine found it no longer holds). */
  clear(): void;
}

/** The boot's id, or undefined where the kernel does not say (then nothing is cached). */
export function bootId(
  read: (file: string) => string = (f) => fs.readFileSync(f, "utf8"),
): string | undefined {
  try {
    const id = read("/proc/sys/kernel/random/boot_id").trim();
    return id.length > 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

/** `file`'s identity for a cache key (path, size, mtime, inode), or undefined when it cannot be read. */
export function fileIdentity(file: string): string | undefined {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st ? `${file} ${st.size} ${st.mtimeMs} ${st.ino} ${st.dev}` : undefined;
}

/**
 * The file cache of engine `engine`'s probe in `dir` (the store's tmp/). Best effort: a cache that
 * cannot be read or written is no cache. `boot` gives the boot's id (undefined where the boot cannot be
 * told apart: then nothing is kept).
 */
export function fileProbeCache(
  dir: string,
  engine: string,
  boot: () => string | undefined = bootId,
): ProbeCache {
  const file = path.join(dir, `probe-${engine}.json`);
  const uid = process.getuid?.() ?? -1;
  let id: string | null | undefined;
  /** The boot and user a result belongs to, then the engine's key; undefined: keep nothing. */
  const fullKey = (key: string): string | undefined => {
    if (id === undefined) id = boot() ?? null;
    return id === null ? undefined : `${id} ${uid} ${key}`;
  };
  return {
    read(key: string): ProbeResult | undefined {
      const full = fullKey(key);
      if (full === undefined) return undefined;
      try {
        const saved = JSON.parse(fs.readFileSync(file, "utf8")) as { key?: unknown; result?: ProbeResult };
        return saved.key === full && saved.result?.ok === true ? saved.result : undefined;
      } catch {
        return undefined;
      }
    },
    write(key: string, result: ProbeResult): void {
      const full = result.ok ? fullKey(key) : undefined;
      if (full === undefined) return;
      const tmp = `${file}.${randomHex(6)}.tmp`;
      try {
        fs.writeFileSync(tmp, JSON.stringify({ key: full, result }) + "\n", {
          mode: 0o600,
          flag: "wx",
        });
        fs.renameSync(tmp, file);
      } catch {
        fs.rmSync(tmp, { force: true });
      }
    },
    clear(): void {
      try {
        fs.unlinkSync(file);
      } catch {
        // Nothing kept.
      }
    },
  };
}
