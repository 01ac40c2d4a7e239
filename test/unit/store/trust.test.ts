// Trusting a store: its root and top folders are the user's (or a shared group's on purpose) and nobody
// else can write them or rename them away; /proc and unmakeable paths are one clear refusal.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  TOP_FOLDERS,
  UnsafeStoreError,
  ancestorProblem,
  folderProblem,
  makeFolders,
  openTrustedStore,
} from "../../../src/store/trust.js";
import type { StoreTrust } from "../../../src/store/trust.js";

const me = process.getuid?.() ?? 0;
const myGid = process.getgid?.() ?? 0;
/** Trust as the running user, with no private group (so group-writable is refused). */
const mine: StoreTrust = { uid: me, gid: myGid, userName: () => undefined };

/** A Stats-like folder with `mode`, `uid` and `gid`. */
function dirStat(mode: number, uid = me, gid = 4242): fs.Stats {
  return { mode: 0o040000 | mode, uid, gid, isDirectory: () => true } as unknown as fs.Stats;
}

/** A fresh folder (0755) to hold stores, under a private temporary folder. */
function parent(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-trust-"));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Asserts that `fn` is refused with an UnsafeStoreError of `status` whose message matches. */
function refused(fn: () => unknown, re: RegExp, status = 1): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UnsafeStoreError, String(err));
    assert.equal(err.exitCode, status);
    assert.equal(err.code, "ERR_STORE_UNSAFE");
    assert.match(err.message, re);
    assert.ok(!err.message.includes("\n"), "one line");
    return true;
  });
}

describe("the store's own folders", () => {
  test("ours and 0700/0755 are fine; another user's, group- or world-writable are not", () => {
    assert.equal(folderProblem(dirStat(0o700), mine), undefined);
    assert.equal(folderProblem(dirStat(0o755), mine), undefined);
    assert.match(folderProblem(dirStat(0o755, me + 1), mine)!, /belongs to uid/);
    assert.match(folderProblem(dirStat(0o775), mine)!, /writable by group 4242/);
    assert.match(folderProblem(dirStat(0o757), mine)!, /writable by every user/);
    assert.match(folderProblem(dirStat(0o1777), mine)!, /writable by every user/);
  });

  test("a shared group, opted in, may own and write them; every user still may not", () => {
    const shared: StoreTrust = { ...mine, sharedGid: 4242 };
    assert.equal(folderProblem(dirStat(0o2770, me + 1, 4242), shared), undefined);
    assert.equal(folderProblem(dirStat(0o775, me, 4242), shared), undefined);
    assert.match(folderProblem(dirStat(0o2770, me + 1, 4243), shared)!, /belongs to uid/);
    assert.match(folderProblem(dirStat(0o777, me, 4242), shared)!, /every user/);
  });

  test("a group-writable folder of our own user-private group is fine (umask 002 on RHEL, Debian)", () => {
    const upg: StoreTrust = { uid: me, gid: myGid, userName: () => undefined };
    // Without /etc/group's word that the group is ours alone, it is refused.
    assert.match(folderProblem(dirStat(0o775, me, myGid), upg)!, /writable by group/);
  });
});

describe("the folders above the store", () => {
  test("sticky world-writable (/tmp) and root's or our 0755 are fine", () => {
    assert.equal(ancestorProblem(dirStat(0o1777, 0, 0), mine), undefined);
    assert.equal(ancestorProblem(dirStat(0o755, 0, 0), mine), undefined);
    assert.equal(ancestorProblem(dirStat(0o700), mine), undefined);
  });

  test("another user's folder, or one others can write without the sticky bit, could swap the store", () => {
    const other = me === 0 ? 1234 : me + 1;
    assert.match(ancestorProblem(dirStat(0o755, other, 0), mine)!, /belongs to uid .* rename the store away/);
    assert.match(ancestorProblem(dirStat(0o777, 0, 0), mine)!, /every user/);
    assert.match(ancestorProblem(dirStat(0o775, 0, 4242), mine)!, /group 4242/);
    assert.equal(ancestorProblem(dirStat(0o2775, 0, 4242), { ...mine, sharedGid: 4242 }), undefined);
  });
});

describe("opening a store", () => {
  test("makes a missing store 0700 and its top folders 0755, whatever the umask", () => {
    const root = path.join(parent(), "a", "b", "store");
    const old = process.umask(0o002);
    try {
      openTrustedStore(root, mine, 1);
    } finally {
      process.umask(old);
    }
    assert.equal(fs.statSync(root).mode & 0o777, 0o700);
    for (const f of TOP_FOLDERS) assert.equal(fs.statSync(path.join(root, f)).mode & 0o777, 0o755, f);
    openTrustedStore(root, mine, 1); // and opens it again
  });

  test("refuses a store of another user (125 for run and exec)", () => {
    const root = path.join(parent(), "store");
    fs.mkdirSync(root, { mode: 0o700 });
    const someoneElse: StoreTrust = { ...mine, uid: me + 1 };
    refused(() => openTrustedStore(root, someoneElse, 125), /refusing the store .*belongs to uid/, 125);
  });

  test("refuses a group- or world-writable root, and says how to opt in", () => {
    const root = path.join(parent(), "store");
    fs.mkdirSync(root);
    fs.chmodSync(root, 0o777);
    refused(() => openTrustedStore(root, mine, 1), /writable by every user.*chmod go-w.*BURROW_SHARED_GROUP/);
    fs.chmodSync(root, 0o770);
    refused(() => openTrustedStore(root, mine, 1), /writable by group/);
  });

  test("refuses a top folder swapped for a link, or writable by others", () => {
    const root = path.join(parent(), "store");
    openTrustedStore(root, mine, 1);
    fs.rmdirSync(path.join(root, "refs"));
    fs.symlinkSync(os.tmpdir(), path.join(root, "refs"));
    refused(() => openTrustedStore(root, mine, 1), /refs is a symbolic link/);
    fs.unlinkSync(path.join(root, "refs"));
    fs.mkdirSync(path.join(root, "refs"));
    fs.chmodSync(path.join(root, "images"), 0o777);
    refused(() => openTrustedStore(root, mine, 1), /its folder .*images is writable by every user/);
  });

  test("refuses a store under a folder everybody may write without the sticky bit", () => {
    const open = parent();
    fs.chmodSync(open, 0o777);
    refused(
      () => openTrustedStore(path.join(open, "store"), mine, 1),
      /the folder .* above it is writable by every user/,
    );
  });

  test("a store given as a link is checked where it points and where the link lies", () => {
    const real = path.join(parent(), "store");
    openTrustedStore(real, mine, 1);
    const safe = path.join(parent(), "link");
    fs.symlinkSync(real, safe);
    openTrustedStore(safe, mine, 1);
    const open = parent();
    fs.chmodSync(open, 0o777);
    fs.symlinkSync(real, path.join(open, "link"));
    refused(
      () => openTrustedStore(path.join(open, "link"), mine, 1),
      /the folder .* above it is writable by every user/,
    );
  });

  test("a store under /proc is refused at once (Node's recursive mkdir spins there)", () => {
    refused(() => openTrustedStore("/proc/self/burrow-store", mine, 125), /under \/proc/, 125);
    refused(() => openTrustedStore("/sys/burrow-store", mine, 1), /under \/sys/);
  });

  test("makeFolders stops at a parent that cannot be made instead of spinning", () => {
    assert.throws(() => makeFolders("/proc/self/fd/0/x/y", 0o700));
  });

  test("a store that cannot be made is one line saying so", () => {
    const file = path.join(parent(), "file");
    fs.writeFileSync(file, "");
    refused(() => openTrustedStore(path.join(file, "store"), mine, 1), /cannot make the store/);
  });
});
