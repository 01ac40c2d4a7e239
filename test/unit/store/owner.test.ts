// Who made a run's leftovers, as their names say, and when that process counts as gone (src/store/owner.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import {
  ownerGone,
  ownerTag,
  parseOwner,
  processStart,
  startTime,
  thisProcess,
} from "../../../src/store/owner.js";
import type { Owner } from "../../../src/store/owner.js";

const me: Owner = { host: "node-7.cluster", pidns: "4026531836", pid: 1000, start: "5000" };

test("startTime reads field 22 of a stat line, whatever the command name holds", () => {
  const rest = "R 20364 20364 9347 0 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 172179 3133440 393";
  assert.equal(startTime(`20366 (cat) ${rest}`), "172179");
  assert.equal(startTime(`20366 (a) (b ) ${rest}`), "172179");
  assert.equal(startTime("20366 (cat) R 1 2"), undefined);
});

test("this process: its own pid and start time as /proc gives them", () => {
  const self = thisProcess();
  assert.equal(self.pid, process.pid);
  assert.equal(self.host, os.hostname());
  assert.equal(self.start, processStart(process.pid));
  assert.match(self.pidns, /^\d+$/);
});

test("ownerTag and parseOwner round-trip, host names with dashes and dots included", () => {
  const name = `burrow-run-${ownerTag(me)}-0123abcd`;
  assert.equal(name, "burrow-run-node-7.cluster-4026531836-1000-5000-0123abcd");
  assert.deepEqual(parseOwner(name, "burrow-run-"), me);
  assert.deepEqual(parseOwner(`burrow-${ownerTag(me)}-0123456789ab`, "burrow-"), me);
});

test("names of older burrows and other programs have no owner", () => {
  for (const n of [
    "burrow-run-1234-0123abcd",
    "burrow-run-host-1-2-0123abcd.tmp",
    "burrow-run-host-1-2-3-XYZ",
    "other-host-1-2-3-0123abcd",
    "burrow-run--1-2-3-0123abcd",
  ])
    assert.equal(parseOwner(n, "burrow-run-"), undefined, n);
});

test("a host name with other characters is written safely and still matches its own", () => {
  const odd = { ...me, host: "box_1 (lab)" };
  const tag = ownerTag(odd);
  assert.match(tag, /^box_1__lab_-/);
  const parsed = parseOwner(`burrow-run-${ownerTag({ ...odd, pid: 2000 })}-0123abcd`, "burrow-run-")!;
  assert.equal(
    ownerGone(parsed, odd, () => undefined),
    true,
  );
});

test("gone: this host and pid namespace, and no process with that pid and start time", () => {
  const owner = { ...me, pid: 2000, start: "7000" };
  assert.equal(
    ownerGone(owner, me, () => undefined),
    true,
    "no such pid",
  );
  assert.equal(
    ownerGone(owner, me, () => "7001"),
    true,
    "the pid was reused by a later process",
  );
  assert.equal(
    ownerGone(owner, me, () => "7000"),
    false,
    "still running",
  );
});

test("never judged: another host (a shared store), another pid namespace, an unknown start time", () => {
  const none = (): undefined => undefined;
  assert.equal(ownerGone({ ...me, host: "node-8", pid: 2000 }, me, none), false);
  assert.equal(ownerGone({ ...me, pidns: "4026532000", pid: 2000 }, me, none), false);
  assert.equal(ownerGone({ ...me, pid: 2000, start: "0" }, me, none), false);
  assert.equal(ownerGone({ ...me, pid: 2000 }, { ...me, start: "0" }, none), false);
});

test("this process's own pid counts as alive only with its own start time", () => {
  assert.equal(
    ownerGone(me, me, () => undefined),
    false,
  );
  assert.equal(
    ownerGone({ ...me, start: "4999" }, me, () => undefined),
    true,
  );
});

test("a live process of this machine is alive; a pid that does not exist is gone", () => {
  const self = thisProcess();
  const parent = { ...self, pid: process.ppid, start: processStart(process.ppid)! };
  assert.equal(ownerGone(parent), false);
  assert.equal(ownerGone({ ...self, pid: 2 ** 22 + 1, start: "1" }), true);
});
