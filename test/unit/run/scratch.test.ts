// Scratch folders: made per run, removed with what was recorded in them, or walked when more is there.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeScratch, makeScratchDir, noteMade, removeScratch } from "../../../src/run/scratch.js";
import { randomHex } from "../../../src/store/random.js";

function base(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "burrow-scratch-"));
}

test("randomHex gives distinct lowercase hex of the asked length", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const h = randomHex(6);
    assert.match(h, /^[0-9a-f]{12}$/);
    seen.add(h);
  }
  assert.equal(seen.size, 50);
  assert.match(randomHex(32), /^[0-9a-f]{64}$/);
});

test("makeScratch makes a private folder, creating a missing base", () => {
  const b = path.join(base(), "deeper", "tmp");
  const dir = makeScratch(b);
  assert.equal(path.dirname(dir), b);
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  removeScratch(dir);
  assert.deepEqual(fs.readdirSync(b), []);
});

test("what was recorded is removed, including a mode 000 folder made inside a recorded one", () => {
  const b = base();
  const dir = makeScratch(b);
  makeScratchDir(dir, "upper");
  makeScratchDir(dir, "work");
  fs.mkdirSync(path.join(dir, "work", "work"), { mode: 0 });
  noteMade(dir, "work/work", true);
  noteMade(dir, "never-made", true);
  fs.mkdirSync(path.join(dir, "upper", "etc"));
  noteMade(dir, "upper/etc", true);
  fs.writeFileSync(path.join(dir, "upper", "etc", "hosts"), "x");
  noteMade(dir, "upper/etc/hosts", false);
  removeScratch(dir);
  assert.deepEqual(fs.readdirSync(b), []);
});

test("anything else left in the scratch (the program's writes) is removed too", () => {
  const b = base();
  const dir = makeScratch(b);
  makeScratchDir(dir, "upper");
  makeScratchDir(dir, "work");
  fs.mkdirSync(path.join(dir, "work", "work"), { mode: 0 });
  noteMade(dir, "work/work", true);
  fs.mkdirSync(path.join(dir, "upper", "tmp", "deep"), { recursive: true });
  fs.writeFileSync(path.join(dir, "upper", "tmp", "deep", "file"), "x");
  fs.mkdirSync(path.join(dir, "engine-state"), { mode: 0o500 });
  removeScratch(dir);
  assert.deepEqual(fs.readdirSync(b), []);
});
