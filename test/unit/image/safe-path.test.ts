// Entry path normalisation and chroot-like resolution inside the rootfs.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
  InRootResolver,
  UnsafePathError,
  normalizeEntryPath,
  splitParent,
} from "../../../src/image/safe-path.js";
import { tempDir } from "./tar-writer.js";

test("normalises member names: leading slash, ./, empty and . components, trailing slash", () => {
  assert.equal(normalizeEntryPath("usr/bin/ls"), "usr/bin/ls");
  assert.equal(normalizeEntryPath("./usr/bin/"), "usr/bin");
  assert.equal(normalizeEntryPath("/etc//passwd"), "etc/passwd");
  assert.equal(normalizeEntryPath("a/./b/../c"), "a/c");
  assert.equal(normalizeEntryPath("a/..b/c.."), "a/..b/c..");
  assert.equal(normalizeEntryPath("./"), "");
  assert.equal(normalizeEntryPath("a//"), "a");
  assert.equal(normalizeEntryPath("././a/"), "a");
  assert.equal(normalizeEntryPath(".//x"), "x");
  assert.equal(normalizeEntryPath("/"), "");
});

test("refuses names whose .. leaves the root, and NUL bytes", () => {
  for (const name of ["..", "../x", "a/../../x", "/../etc/passwd", "./../x"]) {
    assert.throws(() => normalizeEntryPath(name), UnsafePathError, name);
  }
  assert.throws(() => normalizeEntryPath("a\0b"), UnsafePathError);
});

test("splits a path into parent and name", () => {
  assert.deepEqual(splitParent("a/b/c"), ["a/b", "c"]);
  assert.deepEqual(splitParent("c"), ["", "c"]);
});

test("resolves symlinked directories inside the root: absolute targets re-rooted, .. clamped", () => {
  const { dir, cleanup } = tempDir();
  try {
    const root = path.join(dir, "root");
    fs.mkdirSync(path.join(root, "usr/lib"), { recursive: true });
    fs.symlinkSync("/usr/lib", path.join(root, "abs"));
    fs.symlinkSync("../../../../usr", path.join(root, "up"));
    fs.symlinkSync("/", path.join(root, "slash"));
    const r = new InRootResolver(root);
    assert.equal(r.resolveDir("abs", false), "usr/lib");
    assert.equal(r.resolveDir("up/lib", false), "usr/lib");
    assert.equal(r.resolveDir("slash", false), "");
    assert.equal(r.resolveDir("slash/usr", false), "usr");
    assert.equal(r.resolveDir("missing/dir", false), undefined);
    const created: string[] = [];
    assert.equal(
      r.resolveDir("up/new/deep", true, (p) => created.push(p)),
      "usr/new/deep",
    );
    assert.deepEqual(created, ["usr/new", "usr/new/deep"]);
    assert.ok(fs.statSync(path.join(root, "usr/new/deep")).isDirectory());
    assert.deepEqual(fs.readdirSync(dir), ["root"]);
  } finally {
    cleanup();
  }
});

test("a symlink loop is refused", () => {
  const { dir, cleanup } = tempDir();
  try {
    fs.symlinkSync("b", path.join(dir, "a"));
    fs.symlinkSync("a", path.join(dir, "b"));
    assert.throws(() => new InRootResolver(dir).resolveDir("a/x", true), /too many levels/);
  } finally {
    cleanup();
  }
});

test("a file in the way of a directory is replaced when creating", () => {
  const { dir, cleanup } = tempDir();
  try {
    fs.writeFileSync(path.join(dir, "f"), "x");
    const r = new InRootResolver(dir);
    assert.equal(r.resolveDir("f/sub", false), undefined);
    assert.equal(r.resolveDir("f/sub", true), "f/sub");
    assert.ok(fs.statSync(path.join(dir, "f")).isDirectory());
  } finally {
    cleanup();
  }
});
