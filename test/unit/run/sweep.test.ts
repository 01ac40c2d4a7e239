// The sweep of killed runs' leftovers: what it removes and what it must leave alone (src/run/sweep.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { abandonedIn, ownerOfEntry } from "../../../src/run/sweep.js";
import { ownerTag, thisProcess } from "../../../src/store/owner.js";
import type { Owner } from "../../../src/store/owner.js";
import { makeScratch, removeScratch, SCRATCH_PREFIX } from "../../../src/run/scratch.js";

function base(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "burrow-sweep-"));
}

const dead: Owner = { ...thisProcess(), pid: 2 ** 22 + 7, start: "12345" };

test("a scratch folder is named after the process that made it", () => {
  const b = base();
  const dir = makeScratch(b);
  assert.deepEqual(ownerOfEntry(path.basename(dir), SCRATCH_PREFIX), thisProcess());
  assert.deepEqual(abandonedIn(b, SCRATCH_PREFIX), [], "this process's own scratch is kept");
  removeScratch(dir);
});

test("a dead process's scratch, and its half-removed grave, are found; other entries are not", () => {
  const b = base();
  const mk = (n: string): string => {
    fs.mkdirSync(path.join(b, n));
    return path.join(b, n);
  };
  const gone = mk(`${SCRATCH_PREFIX}${ownerTag(dead)}-0123abcd`);
  const grave = mk(`.${SCRATCH_PREFIX}${ownerTag(dead)}-89abcdef.rm-0123456789ab`);
  mk(`${SCRATCH_PREFIX}${ownerTag({ ...dead, host: "elsewhere" })}-0123abcd`);
  mk(`${SCRATCH_PREFIX}${ownerTag({ ...dead, pidns: "1" })}-0123abcd`);
  mk(`${SCRATCH_PREFIX}${ownerTag({ ...thisProcess(), pid: process.ppid, start: thisProcess().start })}-00`);
  mk(`${SCRATCH_PREFIX}1234-0123abcd`);
  mk("unrelated");
  fs.writeFileSync(path.join(b, `${SCRATCH_PREFIX}${ownerTag(dead)}-fedcba98`), "a file, not a folder");
  assert.deepEqual(abandonedIn(b, SCRATCH_PREFIX).sort(), [grave, gone].sort());
});

test("a live run's scratch is kept: its owner's pid and start time still match", () => {
  const b = base();
  const live = { ...thisProcess(), pid: process.ppid };
  const name = `${SCRATCH_PREFIX}${ownerTag(live)}-0123abcd`;
  fs.mkdirSync(path.join(b, name));
  const seen: Owner[] = [];
  const found = abandonedIn(b, SCRATCH_PREFIX, (o) => {
    seen.push(o);
    return false;
  });
  assert.deepEqual(found, []);
  assert.deepEqual(seen, [live]);
});

test("a pattern prefix (layer snapshots: snapshot-ID12-) is matched at the start", () => {
  const b = base();
  const snap = path.join(b, `snapshot-0123456789ab-${ownerTag(dead)}-0123abcd`);
  fs.mkdirSync(snap);
  fs.mkdirSync(path.join(b, `snapshot-xyz-${ownerTag(dead)}-0123abcd`));
  assert.deepEqual(abandonedIn(b, /^snapshot-[0-9a-f]{12}-/), [snap]);
});

test("a folder of another user is left alone", { skip: process.getuid?.() !== 0 && "needs root" }, () => {
  const b = base();
  const theirs = path.join(b, `${SCRATCH_PREFIX}${ownerTag(dead)}-0123abcd`);
  fs.mkdirSync(theirs);
  fs.chownSync(theirs, 65534, 65534);
  assert.deepEqual(abandonedIn(b, SCRATCH_PREFIX), []);
});

test("a missing folder has nothing abandoned in it", () => {
  assert.deepEqual(abandonedIn(path.join(base(), "none"), SCRATCH_PREFIX), []);
});
