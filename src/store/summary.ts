// Counting what a rootfs holds, recorded at flatten time and re-checked by `verify`.
import fs from "node:fs";
import type { RootfsSummary } from "./store.js";
import { RootPaths } from "../image/byte-path.js";

/**
 * Walks a tree without following symlinks and counts files, directories, symlinks and file bytes. Names
 * are taken as bytes and deep paths reached from their parent's descriptor (byte-path.ts), so that no
 * name an image may hold (not UTF-8, past PATH_MAX) makes it fail.
 */
export function summarizeTree(root: string): RootfsSummary {
  const sum: RootfsSummary = { files: 0, dirs: 0, symlinks: 0, bytes: 0 };
  const paths = new RootPaths(root);
  const stack = [""];
  try {
    while (stack.length > 0) {
      const dir = stack.pop()!;
      sum.dirs++;
      for (const e of fs.readdirSync(paths.sys(dir), { withFileTypes: true, encoding: "latin1" })) {
        const rel = dir === "" ? e.name : `${dir}/${e.name}`;
        if (e.isDirectory()) stack.push(rel);
        else if (e.isSymbolicLink()) sum.symlinks++;
        else if (e.isFile()) {
          sum.files++;
          sum.bytes += fs.lstatSync(paths.sys(rel)).size;
        }
      }
    }
  } finally {
    paths.invalidate();
  }
  return sum;
}
