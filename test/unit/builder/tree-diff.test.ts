import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { diffTree, snapshotTree } from "../../../src/builder/tree-diff.js";
import type { TreeChange } from "../../../src/builder/tree-diff.js";
import { writeLayerTar } from "../../../src/builder/layer-tar.js";
import { TarParser } from "../../../src/image/tar-parser.js";

function tree(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "tree-diff-"));
  fs.mkdirSync(path.join(root, "etc/sub"), { recursive: true });
  fs.writeFileSync(path.join(root, "etc/a"), "a");
  fs.writeFileSync(path.join(root, "etc/b"), "b");
  fs.writeFileSync(path.join(root, "etc/sub/c"), "c");
  fs.mkdirSync(path.join(root, "gone/deep"), { recursive: true });
  fs.writeFileSync(path.join(root, "gone/deep/x"), "x");
  fs.mkdirSync(path.join(root, "remade"));
  fs.writeFileSync(path.join(root, "remade/old"), "old");
  return root;
}

const shown = (changes: TreeChange[]): string[] => changes.map((c) => `${c.kind} ${c.rel}`);

test("an unchanged tree has no changes", () => {
  const root = tree();
  assert.deepEqual(diffTree(root, snapshotTree(root)), []);
});

test("new, changed, removed and remade entries, parents first, a removed folder's own entries left out", () => {
  const root = tree();
  const before = snapshotTree(root);
  fs.writeFileSync(path.join(root, "etc/a"), "A");
  fs.chmodSync(path.join(root, "etc/sub/c"), 0o600);
  fs.rmSync(path.join(root, "etc/b"));
  fs.writeFileSync(path.join(root, "new"), "n");
  fs.rmSync(path.join(root, "gone"), { recursive: true });
  // Made anew while the old folder still holds its inode: ext4 may give a folder made right after a removal
  // the freed inode, and then it reads as the same folder (whiteouts for its old entries instead of an opaque
  // marker: the same layer's result; 1 run in some 10 here).
  fs.renameSync(path.join(root, "remade"), path.join(root, "remade-old"));
  fs.mkdirSync(path.join(root, "remade"));
  fs.rmSync(path.join(root, "remade-old"), { recursive: true });
  fs.writeFileSync(path.join(root, "remade/fresh"), "f");
  assert.deepEqual(shown(diffTree(root, before)), [
    "entry etc",
    "entry etc/a",
    "whiteout etc/b",
    "entry etc/sub",
    "entry etc/sub/c",
    "whiteout gone",
    "entry new",
    "entry remade",
    "opaque remade",
    "entry remade/fresh",
  ]);
});

test("a hard link made to an old file shows both names", () => {
  const root = tree();
  const before = snapshotTree(root);
  fs.linkSync(path.join(root, "etc/a"), path.join(root, "etc/a2"));
  const names = shown(diffTree(root, before));
  assert.ok(names.includes("entry etc/a") && names.includes("entry etc/a2"), names.join(", "));
});

/** The members of a gzip'd tar: name, type, owner, link. */
function members(file: string): string[] {
  const out: string[] = [];
  const parser = new TarParser({
    entry: (e) => out.push(`${e.type} ${e.path} ${e.uid}:${e.gid}${e.linkpath ? ` -> ${e.linkpath}` : ""}`),
    data: () => {},
    entryEnd: () => {},
  });
  parser.write(zlib.gunzipSync(fs.readFileSync(file)));
  parser.end();
  return out;
}

test("the layer holds the changes with whiteouts, opaque markers, hard links and the owners given", async () => {
  const root = tree();
  const before = snapshotTree(root);
  fs.writeFileSync(path.join(root, "etc/a"), "A");
  fs.linkSync(path.join(root, "etc/a"), path.join(root, "etc/a2"));
  fs.symlinkSync("/etc/a", path.join(root, "etc/link"));
  fs.rmSync(path.join(root, "etc/b"));
  // Moved out of the tree rather than deleted: the old folder keeps its inode, so the new one cannot get
  // its number back (a reused number reads as the same folder: its removed entries then get whiteouts
  // each instead of one opaque marker, which makes the same tree).
  fs.renameSync(path.join(root, "remade"), `${root}-old-remade`);
  fs.mkdirSync(path.join(root, "remade"));
  const changes = diffTree(root, before);
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "layer-")), "layer.tar.gz");
  const owners = new Map([["/etc/a", { uid: 1000, gid: 1001 }]]);
  const layer = await writeLayerTar(root, changes, out, { owners, ownersFromStat: false });
  assert.equal(layer.size, fs.statSync(out).size);
  assert.match(layer.digest, /^sha256:[a-f0-9]{64}$/);
  assert.deepEqual(members(out), [
    "5 etc/ 0:0",
    "0 etc/a 1000:1001",
    "1 etc/a2 0:0 -> etc/a",
    "0 etc/.wh.b 0:0",
    "2 etc/link 0:0 -> /etc/a",
    "5 remade/ 0:0",
    "0 remade/.wh..wh..opq 0:0",
  ]);
  // The same tree gives the same bytes.
  const again = path.join(path.dirname(out), "again.tar.gz");
  const second = await writeLayerTar(root, changes, again, { owners, ownersFromStat: false });
  assert.deepEqual(second, layer);
});
