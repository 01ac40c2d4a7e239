// Layers against their config's diff_ids: hashed while flattened (every compression, also from a stream),
// the count compared, stored images checked before they are named again, and a refused pull's blobs dropped.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { execFileSync } from "node:child_process";
import { flattenLayers } from "../../../src/image/flatten.js";
import {
  blobDiffId,
  configDiffIds,
  ensureDiffIdsChecked,
  layerCountProblem,
  storedLayerProblems,
} from "../../../src/image/diff-ids.js";
import { DigestMismatchError } from "../../../src/errors.js";
import { Store } from "../../../src/store/store.js";
import type { ImageRecord } from "../../../src/store/store.js";
import { buildTar, tempDir } from "./tar-writer.js";

const sha256 = (b: Buffer | string): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const genuine = buildTar([{ path: "etc/motd", data: "genuine\n" }]);
const evil = buildTar([{ path: "etc/motd", data: "evil!!!\n" }]);

function compress(tar: Buffer, c: "none" | "gzip" | "zstd"): Buffer {
  if (c === "gzip") return zlib.gzipSync(tar);
  if (c === "zstd") return execFileSync("zstd", ["-q", "-c"], { input: tar });
  return tar;
}

for (const c of ["none", "gzip", "zstd"] as const) {
  for (const from of ["file", "stream"] as const) {
    test(`a ${c} layer read from a ${from} is flattened when it matches its diff_id and refused when not`, async () => {
      const t = tempDir();
      try {
        const input = (tar: Buffer, diffId: string) => {
          const blob = compress(tar, c);
          const file = path.join(t.dir, `blob-${sha256(blob).slice(7, 19)}`);
          fs.writeFileSync(file, blob);
          return {
            digest: sha256(blob),
            mediaType: "application/vnd.oci.image.layer.v1.tar",
            file,
            size: blob.length,
            stream: from === "stream" ? Readable.from([blob.subarray(0, 7), blob.subarray(7)]) : undefined,
            diffId,
            label: "layer 1 (x)",
          };
        };
        const ok = path.join(t.dir, "ok");
        fs.mkdirSync(ok);
        await flattenLayers(ok, [input(genuine, sha256(genuine))], { warn: () => undefined });
        assert.equal(fs.readFileSync(path.join(ok, "etc/motd"), "utf8"), "genuine\n");
        const bad = path.join(t.dir, "bad");
        fs.mkdirSync(bad);
        await assert.rejects(
          flattenLayers(bad, [input(evil, sha256(genuine))], { warn: () => undefined }),
          (err: unknown) =>
            err instanceof DigestMismatchError &&
            err.message.includes(`layer 1 (x) is not the layer the image config names`) &&
            err.message.includes(`hashes to ${sha256(evil)}, the config's diff_id is ${sha256(genuine)}`),
        );
      } finally {
        t.cleanup();
      }
    });
  }
}

test("blobDiffId hashes the uncompressed content of every compression", async () => {
  const t = tempDir();
  try {
    for (const c of ["none", "gzip", "zstd"] as const) {
      const file = path.join(t.dir, c);
      fs.writeFileSync(file, compress(genuine, c));
      assert.equal(await blobDiffId(file), sha256(genuine), c);
    }
  } finally {
    t.cleanup();
  }
});

test("configDiffIds reads rootfs.diff_ids and refuses configs without a valid list", () => {
  const fail = (why: string) => new Error(`config ${why}`);
  const id = sha256("x");
  assert.deepEqual(configDiffIds(Buffer.from(JSON.stringify({ rootfs: { diff_ids: [id] } })), fail), [id]);
  assert.throws(() => configDiffIds(Buffer.from("{"), fail), /config is not JSON/);
  for (const bad of [
    {},
    { rootfs: {} },
    { rootfs: { diff_ids: ["md5:00"] } },
    { rootfs: { diff_ids: "x" } },
  ]) {
    assert.throws(() => configDiffIds(Buffer.from(JSON.stringify(bad)), fail), /no valid rootfs\.diff_ids/);
  }
  assert.equal(layerCountProblem(2, [id, id]), undefined);
  assert.equal(layerCountProblem(2, [id]), "its manifest lists 2 layers and its config 1");
  assert.equal(layerCountProblem(1, []), "its manifest lists 1 layer and its config 0");
});

/** A store holding one image flattened (as an older burrow did) from `layers`, without diffIds. */
function legacyImage(layers: Buffer[]): { store: Store; image: ImageRecord; cleanup(): void } {
  const t = tempDir("burrow-store-");
  const store = new Store(t.dir).init();
  const recs = layers.map((tar) => {
    const blob = zlib.gzipSync(tar);
    store.putBlob(sha256(blob), blob);
    return {
      digest: sha256(blob),
      size: blob.length,
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    };
  });
  const id = sha256("config").slice(7);
  const image: ImageRecord = {
    id,
    configDigest: `sha256:${id}`,
    manifestDigest: sha256("manifest"),
    manifestMediaType: "application/vnd.oci.image.manifest.v1+json",
    layers: recs,
    platform: { os: "linux", architecture: "amd64" },
    pulledAt: new Date().toISOString(),
    rootfs: { files: 0, dirs: 1, symlinks: 0, bytes: 0 },
  };
  const tmp = path.join(store.paths.images, ".tmp-x");
  fs.mkdirSync(path.join(tmp, "rootfs"), { recursive: true });
  store.publishImage(tmp, image);
  return { store, image, cleanup: t.cleanup };
}

test("an image flattened unchecked is checked once before it is named again, and noted", async () => {
  const { store, image, cleanup } = legacyImage([genuine]);
  try {
    const checked = await ensureDiffIdsChecked(store, image, [sha256(genuine)]);
    assert.deepEqual(checked.diffIds, [sha256(genuine)]);
    assert.deepEqual(store.readImage(image.id)?.diffIds, [sha256(genuine)]);
    // Noted: the blobs are not read again (a missing blob no longer matters to the shortcut).
    fs.rmSync(store.blobPath(image.layers[0]!.digest));
    assert.deepEqual((await ensureDiffIdsChecked(store, checked, [sha256(genuine)])).diffIds, [
      sha256(genuine),
    ]);
  } finally {
    cleanup();
  }
});

test("an image flattened unchecked from other layers is refused, and so is one whose layer count differs", async () => {
  const { store, image, cleanup } = legacyImage([evil]);
  try {
    await assert.rejects(
      ensureDiffIdsChecked(store, image, [sha256(genuine)]),
      (err: unknown) =>
        err instanceof DigestMismatchError &&
        /the stored image [a-f0-9]{12} is not what its config describes \(layer 1 .* is not the layer the config names/.test(
          err.message,
        ) &&
        err.message.includes("burrow rmi"),
    );
    assert.equal(store.readImage(image.id)?.diffIds, undefined, "nothing noted");
    assert.deepEqual(await storedLayerProblems(store, image, [sha256(evil), sha256(evil)]), [
      "its manifest lists 1 layer and its config 2",
    ]);
  } finally {
    cleanup();
  }
});

test("collectBlobs(only) drops just the blobs named that no image uses", async () => {
  const { store, image, cleanup } = legacyImage([genuine]);
  try {
    store.putBlob(sha256("stray-a"), Buffer.from("stray-a"));
    store.putBlob(sha256("stray-b"), Buffer.from("stray-b"));
    const removed = await store.collectBlobs([sha256("stray-a"), image.layers[0]!.digest]);
    assert.deepEqual(removed, [sha256("stray-a")]);
    assert.ok(store.hasBlob(sha256("stray-b")));
    assert.ok(store.hasBlob(image.layers[0]!.digest));
  } finally {
    cleanup();
  }
});
