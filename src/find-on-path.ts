// Finding an executable on PATH (GNU tar, pigz, zstd...) without loading what uses it.
import fs from "node:fs";
import path from "node:path";

const pathCache = new Map<string, string | undefined>();

/** The absolute path of an executable on PATH, or undefined (cached per process). */
export function findOnPath(name: string): string | undefined {
  if (pathCache.has(name)) return pathCache.get(name);
  let found: string | undefined;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) {
        found = candidate;
        break;
      }
    } catch {
      // not here
    }
  }
  pathCache.set(name, found);
  return found;
}
