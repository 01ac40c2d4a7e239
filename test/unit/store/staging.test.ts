import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { Store } from "../../../src/store/store.js";
import type { ImageRecord } from "../../../src/store/store.js";
import {
  StagedImage,
  inFlight,
  removeScratch,
  scratchPath,
  sweepStaging,
} from "../../../src/store/staging.js";

const ID = "ab".repeat(32);

function newStore(): Store {
  return new Store(fs.mkdtempSync(path.join(os.tmpdir(), "burrow-staging-"))).init();
}

function record(id: string): ImageRecord {
  return {
    id,
    configDigest: `sha256:${id}`,
    manifestDigest: `sha256:${"cd".repeat(32)}`,
    manifestMediaType: "application/vnd.oci.image.manifest.v1+json",
    layers: [],
    platform: { os: "linux", architecture: "amd64" },
    pulledAt: new Date().toISOString(),
    rootfs: { files: 0, dirs: 1, symlinks: 0, bytes: 0 },
  };
}

/** The pid of a process that has ended. */
function deadPid(): number {
  const pid = spawnSync("true").pid;
  assert.ok(pid !== undefined && pid > 0);
  return pid;
}

test("a staged image folder is named for the sweep, registered while built, and published whole", () => {
  const store = newStore();
  const staged = new StagedImage(store, ID);
  assert.match(
    path.basename(staged.dir),
    new RegExp(`^\\.tmp-${ID.slice(0, 12)}-${os.hostname()}-${process.pid}-[0-9a-f]{8}$`),
  );
  assert.equal(path.dirname(staged.dir), store.paths.images);
  assert.ok(fs.statSync(staged.rootfs).isDirectory());
  assert.ok(inFlight.has(staged.dir), "an interrupt removes it");
  fs.writeFileSync(path.join(staged.rootfs, "hello"), "hi");
  assert.equal(staged.publish(record(ID)), true);
  assert.ok(!inFlight.has(staged.dir));
  assert.ok(!fs.existsSync(staged.dir));
  assert.equal(fs.readFileSync(path.join(store.rootfs(ID), "hello"), "utf8"), "hi");
  staged.discard();
  assert.ok(fs.existsSync(path.join(store.rootfs(ID), "hello")), "discard after publish removes nothing");
});

test("a discarded staged image leaves nothing; a second publish of one id removes its own copy", () => {
  const store = newStore();
  const a = new StagedImage(store, ID);
  a.discard();
  assert.ok(!fs.existsSync(a.dir));
  assert.ok(!inFlight.has(a.dir));
  assert.equal(new StagedImage(store, ID).publish(record(ID)), true);
  const b = new StagedImage(store, ID);
  assert.equal(b.publish(record(ID)), false);
  assert.deepEqual(fs.readdirSync(store.paths.images), [ID]);
});

test("scratch paths in tmp/ are named for the sweep and registered until removed", () => {
  const store = newStore();
  assert.match(
    path.basename(scratchPath(store, "clone-import", "-rootfs.tar")),
    new RegExp(`^clone-import-${os.hostname()}-${process.pid}-[0-9a-f]{8}-rootfs\\.tar$`),
  );
  const blob = scratchPath(store, "import-blob");
  assert.match(path.basename(blob), new RegExp(`^import-blob-${os.hostname()}-${process.pid}-[0-9a-f]{8}$`));
  assert.equal(path.dirname(blob), store.paths.tmp);
  assert.ok(inFlight.has(blob));
  fs.writeFileSync(blob, "x");
  removeScratch(blob);
  assert.ok(!fs.existsSync(blob));
  assert.ok(!inFlight.has(blob));
});

test("the sweep removes what dead pulls, loads and imports of this host left, and nothing else", () => {
  const store = newStore();
  const host = os.hostname();
  const dead = deadPid();
  const gone = [
    path.join(store.paths.images, `.tmp-${ID.slice(0, 12)}-${host}-${dead}-0123abcd`),
    // The grave removeTreeAtomic renames a folder to, when the removal was cut short.
    path.join(store.paths.images, `..tmp-${ID.slice(0, 12)}-${host}-${dead}-0123abce.rm-0123456789ab`),
    path.join(store.paths.tmp, `load-${host}-${dead}-0123abcd`),
    path.join(store.paths.tmp, `import-blob-${host}-${dead}-0123abcd`),
    path.join(store.paths.tmp, `.import-blob-${host}-${dead}-0123abce.rm-0123456789ab`),
    path.join(store.paths.tmp, `clone-export-${host}-${dead}-0123abcd.tar`),
    path.join(store.paths.tmp, `clone-import-${host}-${dead}-0123abcd-rootfs.tar`),
  ];
  const kept = [
    // Alive (this process), another host's (a shared store), and names the sweep does not make.
    path.join(store.paths.images, `.tmp-${ID.slice(0, 12)}-${host}-${process.pid}-0123abcd`),
    path.join(store.paths.images, `.tmp-${ID.slice(0, 12)}-elsewhere.example-${dead}-0123abcd`),
    path.join(store.paths.tmp, `load-elsewhere.example-${dead}-0123abcd`),
    path.join(store.paths.tmp, `export-${host}-${dead}-0123abcd`),
  ];
  for (const p of [...gone, ...kept]) {
    if (/blob|\.tar$/.test(path.basename(p))) fs.writeFileSync(p, "x");
    else fs.mkdirSync(path.join(p, "rootfs", "etc"), { recursive: true });
  }
  sweepStaging(store);
  for (const p of gone) assert.ok(!fs.existsSync(p), `${path.basename(p)} is swept`);
  for (const p of kept) assert.ok(fs.existsSync(p), `${path.basename(p)} stays`);
});
