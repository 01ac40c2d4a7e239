// planSave and writeSave: the archive's members and their order, missing blobs named, tar headers readable.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { Store } from "../../../src/store/store.js";
import type { ImageRecord } from "../../../src/store/store.js";
import { planSave, tarHeader, writeSave } from "../../../src/archive/save.js";
import { TarParser, type TarEntry } from "../../../src/image/tar-parser.js";
import { parseTarNumber } from "../../../src/image/tar-parser.js";
import { StoreError } from "../../../src/errors.js";
import { buildTar, tempDir } from "../image/tar-writer.js";

const sha256 = (b: Buffer | string): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** Puts an image record and its blobs into a store (without a rootfs: save does not read it). */
function seed(store: Store, opts: { dropLayer?: boolean } = {}): ImageRecord {
  const layer = buildTar([{ path: "f", data: "x" }]);
  const config = Buffer.from(
    JSON.stringify({
      os: "linux",
      architecture: "amd64",
      rootfs: { type: "layers", diff_ids: [sha256(layer)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: sha256(config),
        size: config.length,
      },
      layers: [
        { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(layer), size: layer.length },
      ],
    }),
  );
  store.putBlob(sha256(config), config);
  store.putBlob(sha256(manifest), manifest);
  if (!opts.dropLayer) store.putBlob(sha256(layer), layer);
  return {
    id: sha256(config).slice(7),
    configDigest: sha256(config),
    manifestDigest: sha256(manifest),
    manifestMediaType: "application/vnd.oci.image.manifest.v1+json",
    layers: [
      { digest: sha256(layer), size: layer.length, mediaType: "application/vnd.oci.image.layer.v1.tar" },
    ],
    platform: { os: "linux", architecture: "amd64" },
    pulledAt: new Date().toISOString(),
    rootfs: { files: 1, dirs: 1, symlinks: 0, bytes: 1 },
  };
}

/** Parses a tar into name → content. */
function untar(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let name = "";
  let parts: Buffer[] = [];
  const p = new TarParser({
    entry: (e: TarEntry) => {
      name = e.path;
      parts = [];
    },
    data: (b, s, e) => parts.push(Buffer.from(b.subarray(s, e))),
    entryEnd: () => out.set(name, Buffer.concat(parts)),
  });
  p.write(buf);
  p.end();
  return out;
}

test("the archive holds each blob once, with manifest.json and index.json pointing at them", async () => {
  const t = tempDir("burrow-save-");
  try {
    const store = new Store(path.join(t.dir, "s")).init();
    const image = seed(store);
    const plan = planSave(store, [{ image, names: ["docker.io/library/img:1", "localhost:5000/r:2"] }]);
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on("data", (c: Buffer) => chunks.push(c));
    await writeSave(plan, out);
    const files = untar(Buffer.concat(chunks));
    const m = JSON.parse(files.get("manifest.json")!.toString()) as {
      Config: string;
      RepoTags: string[];
      Layers: string[];
    }[];
    assert.deepEqual(m, [
      {
        Config: `blobs/sha256/${image.id}`,
        RepoTags: ["img:1", "localhost:5000/r:2"],
        Layers: [`blobs/sha256/${image.layers[0]!.digest.slice(7)}`],
      },
    ]);
    const index = JSON.parse(files.get("index.json")!.toString()) as {
      manifests: { digest: string; annotations: Record<string, string> }[];
    };
    assert.equal(index.manifests.length, 2);
    assert.equal(index.manifests[0]!.digest, image.manifestDigest, "the store's own manifest is used");
    assert.equal(index.manifests[0]!.annotations["io.containerd.image.name"], "docker.io/library/img:1");
    assert.equal(index.manifests[1]!.annotations["org.opencontainers.image.ref.name"], "2");
    assert.ok(files.has("oci-layout"));
    for (const [name, body] of files) {
      if (name.startsWith("blobs/sha256/") && body.length > 0)
        assert.equal(sha256(body).slice(7), path.basename(name));
    }
  } finally {
    t.cleanup();
  }
});

test("a missing layer blob is named and nothing is planned", () => {
  const t = tempDir("burrow-save-");
  try {
    const store = new Store(path.join(t.dir, "s")).init();
    const image = seed(store, { dropLayer: true });
    assert.throws(
      () => planSave(store, [{ image, names: [] }]),
      (err: unknown) => err instanceof StoreError && err.message.includes(image.layers[0]!.digest),
    );
  } finally {
    t.cleanup();
  }
});

test("a blob altered in the store fails the write", async () => {
  const t = tempDir("burrow-save-");
  try {
    const store = new Store(path.join(t.dir, "s")).init();
    const image = seed(store);
    const plan = planSave(store, [{ image, names: [] }]);
    const file = store.blobPath(image.layers[0]!.digest);
    const b = fs.readFileSync(file);
    b[0] = b[0]! ^ 1;
    fs.writeFileSync(file, b);
    const out = new PassThrough();
    out.resume();
    await assert.rejects(writeSave(plan, out), /damaged/);
  } finally {
    t.cleanup();
  }
});

test("tar headers carry sizes past 8 GiB in base-256", () => {
  const big = 10 * 1024 ** 3;
  const h = tarHeader("blobs/sha256/x", "0", big, 0o644);
  assert.equal(parseTarNumber(h, 124, 12, "size"), big);
  assert.equal(parseTarNumber(tarHeader("a", "0", 1234, 0o644), 124, 12, "size"), 1234);
});
