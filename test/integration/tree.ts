// Describing a directory tree so tests can compare a flattened rootfs with what its layers say.
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";

/** One line per entry: `path type detail`, where detail is a content hash, a link target or nothing. */
export function describeTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) out.push(`${r} symlink ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${r} dir`);
        walk(p, r);
      } else if (st.isFile()) {
        out.push(`${r} file ${createHash("sha256").update(fs.readFileSync(p)).digest("hex").slice(0, 16)}`);
      } else out.push(`${r} other`);
    }
  };
  walk(root, "");
  return out;
}

/** A map from relative path to its line in describeTree. */
export function treeMap(root: string): Map<string, string> {
  return new Map(describeTree(root).map((l) => [l.split(" ")[0]!, l]));
}
