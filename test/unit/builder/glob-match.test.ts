// COPY/ADD wildcards match one path component as Go's filepath.Match does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BadPatternError, hasGlob, matchGlob } from "../../../src/builder/glob-match.js";

test("hasGlob sees unescaped *, ? and [ only", () => {
  assert.equal(hasGlob("a*.txt"), true);
  assert.equal(hasGlob("a?"), true);
  assert.equal(hasGlob("[ab]"), true);
  assert.equal(hasGlob("plain.txt"), false);
  assert.equal(hasGlob("a\\*b"), false);
});

test("* and ? match within a name, dot files included, as Go does", () => {
  assert.equal(matchGlob("*.txt", "a.txt"), true);
  assert.equal(matchGlob("*.txt", ".hidden.txt"), true);
  assert.equal(matchGlob("*.txt", "a.md"), false);
  assert.equal(matchGlob("?.txt", "ab.txt"), false);
  assert.equal(matchGlob("*", ""), true);
});

test("classes: ranges, ^ negation, escapes; ! is a plain character in Go", () => {
  assert.equal(matchGlob("[a-c].txt", "b.txt"), true);
  assert.equal(matchGlob("[a-c].txt", "d.txt"), false);
  assert.equal(matchGlob("[^a-c].txt", "d.txt"), true);
  assert.equal(matchGlob("[!a].txt", "!.txt"), true);
  assert.equal(matchGlob("[!a].txt", "b.txt"), false);
  assert.equal(matchGlob("[\\]]", "]"), true);
  assert.equal(matchGlob("a\\*", "a*"), true);
  assert.equal(matchGlob("a\\*", "ab"), false);
  assert.equal(matchGlob("[z-a]", "m"), false, "a reversed range matches nothing");
});

test("malformed patterns are refused as Go's ErrBadPattern", () => {
  for (const bad of ["[", "[]", "[a", "[-a]", "a\\", "[a-]"]) {
    assert.throws(() => matchGlob(bad, "a"), BadPatternError, bad);
  }
});
