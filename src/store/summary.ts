// Counting what a rootfs holds, recorded at flatten time and re-checked by `verify`.
import fs from "node:fs";
import path from "node:path";
import type { RootfsSummary } from "./store.js";

/** Walks a tree without following symlinks and counts files, directories, symlinks and file bytes. */
export function summarizeTree(root: string): RootfsSummary {
  const sum: RootfsSummary = { files: 0, dirs: 0, symlinks: 0, bytes: 0 };
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    sum.dirs++;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isSymbolicLink()) sum.symlinks++;
      else if (e.isFile()) {
        sum.files++;
        sum.bytes += fs.lstatSync(p).size;
      }
    }
  }
  return sum;
}
