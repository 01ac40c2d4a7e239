// Whiteout names and the hashed path set that lets a layer's whiteouts spare its own members.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LayerAdditions, classifyWhiteout, underWhiteoutName } from "../../../src/image/whiteout.js";
import { PathHashSet } from "../../../src/image/path-hash-set.js";
import { UnsafePathError } from "../../../src/image/safe-path.js";

test("classifies whiteout basenames", () => {
  assert.equal(classifyWhiteout("file"), undefined);
  assert.equal(classifyWhiteout(".whx"), undefined);
  assert.deepEqual(classifyWhiteout(".wh..wh..opq"), { kind: "opaque" });
  assert.deepEqual(classifyWhiteout(".wh..wh.plnk"), { kind: "meta" });
  assert.deepEqual(classifyWhiteout(".wh.foo"), { kind: "remove", name: "foo" });
  assert.deepEqual(classifyWhiteout(".wh..bashrc"), { kind: "remove", name: ".bashrc" });
});

test("a whiteout that names no file of its directory (., .., empty) is refused", () => {
  for (const name of [".wh.", ".wh..", ".wh..."])
    assert.throws(() => classifyWhiteout(name), UnsafePathError, name);
});

test("detects members under a .wh. directory", () => {
  assert.equal(underWhiteoutName(".wh.x"), true);
  assert.equal(underWhiteoutName("a/.wh.x/b"), true);
  assert.equal(underWhiteoutName("a/b.wh.x"), false);
});

test("layer additions record a path and its ancestors", () => {
  const a = new LayerAdditions();
  a.add("a/b/c");
  for (const p of ["a", "a/b", "a/b/c"]) assert.equal(a.has(p), true, p);
  assert.equal(a.has("a/b/d"), false);
  assert.equal(a.has("b"), false);
});

test("the path hash set keeps many members without false answers", () => {
  const s = new PathHashSet();
  for (let i = 0; i < 100_000; i++) assert.equal(s.add(`usr/share/doc/pkg${i}/copyright`), true);
  assert.equal(s.add("usr/share/doc/pkg5/copyright"), false);
  assert.equal(s.size, 100_000);
  for (let i = 0; i < 100_000; i++) assert.equal(s.has(`usr/share/doc/pkg${i}/copyright`), true);
  for (let i = 0; i < 100_000; i++) assert.equal(s.has(`usr/share/doc/pkg${i}/changelog`), false);
});
