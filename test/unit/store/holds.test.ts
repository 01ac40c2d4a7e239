// Runs hold their image: rmi of a held image removes the name and marks it; the last holder (or the next
// command's sweep, once the holder is dead) deletes it; a dead or reused pid holds nothing.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { Store } from "../../../src/store/store.js";
import type { ImageRecord } from "../../../src/store/store.js";
import {
  HOLD_STALE_MS,
  finishRemoval,
  holdImage,
  holdIsLive,
  holdsDir,
  liveHolds,
  removeImageUnlessHeld,
  removedImages,
  sweepHolds,
} from "../../../src/store/holds.js";
import { processStart } from "../../../src/run/state.js";
import { containersOf } from "../../../src/store/containers.js";
import { ImageNotFoundError } from "../../../src/errors.js";

function digest(s: string): string {
  return `sha256:${createHash("sha256").update(s).digest("hex")}`;
}

function newStore(): Store {
  return new Store(fs.mkdtempSync(path.join(os.tmpdir(), "burrow-holds-"))).init();
}

/** An image named `name` with one layer blob. */
function addImage(store: Store, name: string): ImageRecord {
  const config = `config-${name}`;
  const manifest = `manifest-${name}`;
  const layer = `layer-${name}`;
  for (const b of [config, manifest, layer]) store.putBlob(digest(b), Buffer.from(b));
  const rec: ImageRecord = {
    id: digest(config).slice(7),
    configDigest: digest(config),
    manifestDigest: digest(manifest),
    manifestMediaType: "application/vnd.oci.image.manifest.v1+json",
    layers: [{ digest: digest(layer), size: layer.length, mediaType: "x" }],
    platform: { os: "linux", architecture: "amd64" },
    pulledAt: new Date().toISOString(),
    rootfs: { files: 0, dirs: 1, symlinks: 0, bytes: 0 },
  };
  const tmp = path.join(store.paths.images, `.tmp-${name}`);
  fs.mkdirSync(path.join(tmp, "rootfs"), { recursive: true });
  assert.ok(store.publishImage(tmp, rec));
  store.setRef(`docker.io/library/${name}:latest`, rec.id, rec.manifestDigest);
  return rec;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(r.stdout.toString());
}

/** Writes a hold file named as `holdImage` names them, for pid `pid` (start time `start`) of `host`. */
function fakeHold(store: Store, id: string, pid: number, start: string, host = os.hostname()): string {
  fs.mkdirSync(holdsDir(store), { recursive: true });
  const file = path.join(holdsDir(store), `${id}.${pid}.${start}.abcd@${host}`);
  fs.writeFileSync(file, "");
  return file;
}

const present = (store: Store, id: string): boolean => fs.existsSync(store.imageDir(id));

describe("whether a hold is live", () => {
  test("this process's hold is; a dead pid's, a reused pid's and garbage are not", () => {
    const id = "a".repeat(64);
    const host = os.hostname();
    const start = processStart(process.pid)!;
    assert.ok(holdIsLive(`${id}.${process.pid}.${start}.ab@${host}`, () => 0));
    assert.ok(!holdIsLive(`${id}.${deadPid()}.${start}.ab@${host}`, () => 0));
    assert.ok(!holdIsLive(`${id}.${process.pid}.1.ab@${host}`, () => 0), "a reused pid (other start time)");
    assert.ok(!holdIsLive("whatever", () => 0));
  });

  test("another host's hold lives while its heartbeat is fresh", () => {
    const name = `${"b".repeat(64)}.1.1.ab@another-host`;
    const now = Date.now();
    assert.ok(holdIsLive(name, () => now - 1000, now));
    assert.ok(!holdIsLive(name, () => now - HOLD_STALE_MS - 1, now));
  });
});

describe("rmi of a held image", () => {
  test("an unheld image is deleted at once with its blobs", async () => {
    const store = newStore();
    const img = addImage(store, "free");
    store.removeRef("docker.io/library/free:latest");
    const freed = await removeImageUnlessHeld(store, img.id);
    assert.ok(freed !== undefined && freed.includes(img.layers[0]!.digest));
    assert.ok(!present(store, img.id));
    assert.deepEqual(removedImages(store), new Set());
  });

  test("a held image stays until its run releases it, then goes with its blobs", async () => {
    const store = newStore();
    const img = addImage(store, "held");
    const hold = await holdImage(store, img.id);
    store.removeRef("docker.io/library/held:latest");
    assert.equal(await removeImageUnlessHeld(store, img.id), undefined);
    assert.ok(present(store, img.id), "kept for the run");
    assert.deepEqual(removedImages(store), new Set([img.id]));
    await hold.release();
    assert.ok(!present(store, img.id), "gone when the run ends");
    assert.ok(!store.hasBlob(img.layers[0]!.digest));
    assert.deepEqual(fs.readdirSync(holdsDir(store)), [], "no hold, no mark left");
  });

  test("of two runs, the last to end deletes it", async () => {
    const store = newStore();
    const img = addImage(store, "two");
    const a = await holdImage(store, img.id);
    const b = await holdImage(store, img.id);
    store.removeRef("docker.io/library/two:latest");
    assert.equal(await removeImageUnlessHeld(store, img.id), undefined);
    await a.release();
    assert.ok(present(store, img.id));
    await b.release();
    assert.ok(!present(store, img.id));
  });

  test("a killed run's hold keeps nothing: rmi deletes, and so does the next command's sweep", async () => {
    const store = newStore();
    const one = addImage(store, "killed1");
    const start = processStart(process.pid)!;
    const dead = fakeHold(store, one.id, deadPid(), start);
    store.removeRef("docker.io/library/killed1:latest");
    assert.ok((await removeImageUnlessHeld(store, one.id)) !== undefined);
    assert.ok(!present(store, one.id));
    assert.ok(!fs.existsSync(dead), "the dead hold is swept");

    const two = addImage(store, "killed2");
    const pid = deadPid();
    const live = await holdImage(store, two.id);
    store.removeRef("docker.io/library/killed2:latest");
    assert.equal(await removeImageUnlessHeld(store, two.id), undefined);
    // The run is killed: its hold file stays, named after a process that is gone.
    const file = fs.readdirSync(holdsDir(store)).find((n) => n.startsWith(`${two.id}.${process.pid}.`))!;
    fs.renameSync(
      path.join(holdsDir(store), file),
      path.join(holdsDir(store), file.replace(`.${process.pid}.`, `.${pid}.`)),
    );
    await sweepHolds(store);
    assert.ok(!present(store, two.id), "the sweep deleted it");
    assert.deepEqual(fs.readdirSync(holdsDir(store)), []);
    await live.release(); // releasing after the sweep is harmless
  });

  test("an image named again (pull, tag) while held is kept and no longer marked", async () => {
    const store = newStore();
    const img = addImage(store, "again");
    const hold = await holdImage(store, img.id);
    store.removeRef("docker.io/library/again:latest");
    assert.equal(await removeImageUnlessHeld(store, img.id), undefined);
    store.setRef("docker.io/library/again:2", img.id);
    await hold.release();
    assert.ok(present(store, img.id));
    assert.deepEqual(removedImages(store), new Set());
  });

  test("a pull of the image under way (its blob claim) keeps it", async () => {
    const store = newStore();
    const img = addImage(store, "pulling");
    store.removeRef("docker.io/library/pulling:latest");
    const hold = await holdImage(store, img.id);
    assert.equal(await removeImageUnlessHeld(store, img.id), undefined);
    const claim = await store.claimBlobs([img.configDigest]);
    await hold.release();
    assert.ok(present(store, img.id), "kept while the pull runs");
    claim.release();
    assert.ok(await finishRemoval(store, img.id));
    assert.ok(!present(store, img.id));
  });

  test("a run that starts as rmi deletes the image fails with one line; one that finds it marked but there holds it", async () => {
    const store = newStore();
    const gone = addImage(store, "gone");
    store.removeRef("docker.io/library/gone:latest");
    await removeImageUnlessHeld(store, gone.id);
    await assert.rejects(holdImage(store, gone.id), (err: unknown) => {
      assert.ok(err instanceof ImageNotFoundError);
      assert.match(err.message, /was removed from the store as this run started: pull it again/);
      return true;
    });
    assert.deepEqual(liveHolds(store), [], "the failed run left no hold");

    const marked = addImage(store, "marked");
    const first = await holdImage(store, marked.id);
    store.removeRef("docker.io/library/marked:latest");
    assert.equal(await removeImageUnlessHeld(store, marked.id), undefined);
    const second = await holdImage(store, marked.id);
    await first.release();
    assert.ok(present(store, marked.id), "the second run holds it");
    await second.release();
    assert.ok(!present(store, marked.id));
  });

  test("rmi of an image containers were made from: the name goes, the files stay until the last container goes", async () => {
    const store = newStore();
    const img = addImage(store, "used");
    const containers = containersOf(store.paths);
    fs.mkdirSync(containers.dir);
    const a = await containers.make(img.id, "used", "a", "overlay");
    const b = await containers.make(img.id, "used", "b", "overlay");
    store.removeRef("docker.io/library/used:latest");
    assert.equal(await removeImageUnlessHeld(store, img.id), undefined, "kept for its containers");
    assert.ok(present(store, img.id));
    assert.deepEqual(removedImages(store), new Set([img.id]), "marked removed (images lists it no more)");
    await sweepHolds(store);
    assert.ok(present(store, img.id), "the sweep keeps it while containers use it");
    containers.remove(a.id);
    assert.equal(await finishRemoval(store, img.id), false, "one container is left");
    assert.ok(present(store, img.id));
    containers.remove(b.id);
    assert.ok(await finishRemoval(store, img.id), "the last container is gone");
    assert.ok(!present(store, img.id));
    assert.deepEqual(removedImages(store), new Set());
  });
});
