import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { Store } from "../../../src/store/store.js";
import type { ImageRecord } from "../../../src/store/store.js";

function digest(s: string): string {
  return `sha256:${createHash("sha256").update(s).digest("hex")}`;
}

function newStore(): Store {
  return new Store(fs.mkdtempSync(path.join(os.tmpdir(), "burrow-store-"))).init();
}

function addImage(store: Store, name: string, layers: string[]): ImageRecord {
  const config = `config-${name}`;
  const manifest = `manifest-${name}`;
  store.putBlob(digest(config), Buffer.from(config));
  store.putBlob(digest(manifest), Buffer.from(manifest));
  for (const l of layers) store.putBlob(digest(l), Buffer.from(l));
  const rec: ImageRecord = {
    id: digest(config).slice(7),
    configDigest: digest(config),
    manifestDigest: digest(manifest),
    manifestMediaType: "application/vnd.oci.image.manifest.v1+json",
    layers: layers.map((l) => ({ digest: digest(l), size: l.length, mediaType: "x" })),
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

test("a published image is listed; a temp folder never is", () => {
  const store = newStore();
  fs.mkdirSync(path.join(store.paths.images, ".tmp-half"), { recursive: true });
  const a = addImage(store, "a", ["l1"]);
  assert.deepEqual(
    store.listImages().map((i) => i.id),
    [a.id],
  );
  assert.equal(store.findImage("docker.io/library/a:latest", "a").image.id, a.id);
  assert.equal(store.findImage(undefined, a.id.slice(0, 12)).image.id, a.id);
  assert.throws(() => store.findImage("docker.io/library/zzz:latest", "zzz"), /no image "zzz"/);
});

test("a second publish of the same image loses quietly and leaves one copy", () => {
  const store = newStore();
  const a = addImage(store, "a", ["l1"]);
  const tmp = path.join(store.paths.images, ".tmp-again");
  fs.mkdirSync(path.join(tmp, "rootfs", "x"), { recursive: true });
  assert.equal(store.publishImage(tmp, a), false);
  assert.ok(!fs.existsSync(tmp));
});

test("removing an image collects only the blobs no other image uses", async () => {
  const store = newStore();
  const a = addImage(store, "a", ["shared", "only-a"]);
  const b = addImage(store, "b", ["shared", "only-b"]);
  const removed = await store.removeImage(a.id);
  assert.ok(removed.includes(digest("only-a")));
  assert.ok(removed.includes(a.configDigest));
  assert.ok(store.hasBlob(digest("shared")));
  assert.ok(store.hasBlob(digest("only-b")));
  assert.ok(store.hasBlob(b.configDigest));
});

test("blobs claimed by a running pull survive collection", async () => {
  const store = newStore();
  store.putBlob(digest("fresh"), Buffer.from("fresh"));
  const claim = await store.claimBlobs([digest("fresh")]);
  await store.collectBlobs();
  assert.ok(store.hasBlob(digest("fresh")));
  claim.release();
  await store.collectBlobs();
  assert.ok(!store.hasBlob(digest("fresh")));
});

test("names round-trip through their file names", () => {
  const store = newStore();
  store.setRef("127.0.0.1:5000/a/b:1", "x".repeat(64));
  store.setRef("docker.io/library/c@sha256:" + "0".repeat(64), "y".repeat(64));
  assert.deepEqual(
    store.listRefs().map((r) => r.name),
    ["127.0.0.1:5000/a/b:1", "docker.io/library/c@sha256:" + "0".repeat(64)],
  );
  assert.ok(store.removeRef("127.0.0.1:5000/a/b:1"));
  assert.ok(!store.removeRef("127.0.0.1:5000/a/b:1"));
});
