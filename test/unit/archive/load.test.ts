// loadArchive on archives built in memory: docker-save layouts (legacy and docker 25), OCI layouts, compressed
// and streamed archives, and the checks that keep a bad archive out of the store.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { Readable } from "node:stream";
import { Store } from "../../../src/store/store.js";
import { loadArchive, memberPath } from "../../../src/archive/load.js";
import { digestInName, parseDockerManifest } from "../../../src/archive/docker-archive.js";
import { parseLayoutIndex } from "../../../src/archive/oci-layout.js";
import { ArchiveError, DigestMismatchError } from "../../../src/errors.js";
import { buildTar, tempDir, type Member } from "../image/tar-writer.js";

const sha256 = (b: Buffer | string): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

function configFor(layers: Buffer[], diffIds = layers.map((l) => sha256(l))): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: diffIds },
    }),
  );
}

/** A docker-save archive (pre-25 layout): `<hex>.json`, `<id>/layer.tar`, manifest.json. */
function dockerArchive(
  layers: Buffer[],
  opts: { tags?: string[]; diffIds?: string[]; extra?: Member[] } = {},
) {
  const config = configFor(layers, opts.diffIds);
  const configName = `${sha256(config).slice(7)}.json`;
  const members: Member[] = [{ path: configName, data: config }];
  layers.forEach((l, i) => members.push({ path: `id${i}/layer.tar`, data: l }));
  members.push(...(opts.extra ?? []));
  members.push({
    path: "manifest.json",
    data: JSON.stringify([
      {
        Config: configName,
        RepoTags: opts.tags ?? ["img:1"],
        Layers: layers.map((_, i) => `id${i}/layer.tar`),
      },
    ]),
  });
  return { tar: buildTar(members), configDigest: sha256(config) };
}

async function withStore(fn: (store: Store, dir: string) => Promise<void>): Promise<void> {
  const t = tempDir("burrow-load-");
  try {
    await fn(new Store(path.join(t.dir, "store")).init(), t.dir);
  } finally {
    t.cleanup();
  }
}

function state(store: Store): string[] {
  return ["images", "refs", "blobs/sha256", "tmp"].flatMap((d) =>
    fs
      .readdirSync(path.join(store.paths.root, d))
      .filter((n) => !n.startsWith("claim-"))
      .map((n) => `${d}/${n}`),
  );
}

const layerA = buildTar([
  { path: "etc/", type: "5" },
  { path: "etc/a", data: "A" },
]);
const layerB = buildTar([{ path: "etc/b", data: "B" }, { path: "etc/.wh.a" }]);

test("loads a docker-save archive: image, name, blobs and a manifest for verify", async () => {
  await withStore(async (store, dir) => {
    const { tar, configDigest } = dockerArchive([layerA, layerB]);
    const file = path.join(dir, "a.tar");
    fs.writeFileSync(file, tar);
    const loaded = await loadArchive(store, { path: file, label: file }, () => {});
    assert.equal(loaded.length, 1);
    assert.equal(loaded[0]!.id, configDigest.slice(7));
    assert.deepEqual(loaded[0]!.names, ["docker.io/library/img:1"]);
    const rec = store.readImage(configDigest.slice(7))!;
    assert.deepEqual(
      rec.layers.map((l) => l.digest),
      [sha256(layerA), sha256(layerB)],
    );
    for (const d of [rec.configDigest, rec.manifestDigest, ...rec.layers.map((l) => l.digest)]) {
      assert.equal(sha256(store.readBlob(d)!), d);
    }
    const root = store.rootfs(rec.id);
    assert.equal(fs.readFileSync(path.join(root, "etc/b"), "utf8"), "B");
    assert.ok(!fs.existsSync(path.join(root, "etc/a")));
    assert.equal(store.getRef("docker.io/library/img:1")!.image, rec.id);
    assert.deepEqual(
      fs.readdirSync(store.paths.tmp).filter((n) => !n.startsWith("claim-")),
      [],
    );
  });
});

test("reads gzip-compressed archives, compressed layer files and a stream", async () => {
  await withStore(async (store) => {
    const config = configFor([layerA]);
    const tar = buildTar([
      { path: "c.json", data: config },
      { path: "l.tar.gz", data: zlib.gzipSync(layerA) },
      {
        path: "manifest.json",
        data: JSON.stringify([{ Config: "c.json", RepoTags: null, Layers: ["l.tar.gz"] }]),
      },
    ]);
    const loaded = await loadArchive(
      store,
      { stream: Readable.from([zlib.gzipSync(tar)]), label: "stdin" },
      () => {},
    );
    assert.deepEqual(loaded[0]!.names, []);
    const rec = store.readImage(loaded[0]!.id)!;
    assert.equal(rec.layers[0]!.mediaType, "application/vnd.docker.image.rootfs.diff.tar.gzip");
  });
});

test("follows skopeo's legacy symlinks inside the archive", async () => {
  await withStore(async (store, dir) => {
    const config = configFor([layerA]);
    const tar = buildTar([
      { path: `${sha256(config).slice(7)}.json`, data: config },
      { path: "abc.tar", data: layerA },
      { path: "v1/", type: "5" },
      { path: "v1/layer.tar", type: "2", linkpath: "../abc.tar" },
      {
        path: "manifest.json",
        data: JSON.stringify([
          { Config: `${sha256(config).slice(7)}.json`, RepoTags: ["x/y:2"], Layers: ["v1/layer.tar"] },
        ]),
      },
    ]);
    const file = path.join(dir, "s.tar");
    fs.writeFileSync(file, tar);
    const loaded = await loadArchive(store, { path: file, label: file }, () => {});
    assert.deepEqual(loaded[0]!.names, ["docker.io/x/y:2"]);
  });
});

test("loads an OCI layout directory, naming images from their annotations", async () => {
  await withStore(async (store, dir) => {
    const layout = path.join(dir, "layout");
    const blobs = path.join(layout, "blobs/sha256");
    fs.mkdirSync(blobs, { recursive: true });
    const put = (b: Buffer): string => {
      fs.writeFileSync(path.join(blobs, sha256(b).slice(7)), b);
      return sha256(b);
    };
    const gz = zlib.gzipSync(layerA);
    const config = configFor([layerA]);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: put(config),
          size: config.length,
        },
        layers: [
          { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: put(gz), size: gz.length },
        ],
      }),
    );
    const md = put(manifest);
    fs.writeFileSync(path.join(layout, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    const entry = (ann: Record<string, string>) => ({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: md,
      size: manifest.length,
      annotations: ann,
    });
    fs.writeFileSync(
      path.join(layout, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          entry({ "org.opencontainers.image.ref.name": "localhost/r:1" }),
          entry({ "org.opencontainers.image.ref.name": "2" }),
        ],
      }),
    );
    const loaded = await loadArchive(store, { path: layout, label: layout }, () => {});
    assert.equal(loaded.length, 1);
    assert.deepEqual(loaded[0]!.names, ["localhost/r:1"]);
    assert.deepEqual(loaded[0]!.bareTags, ["2"]);
    assert.equal(store.readImage(loaded[0]!.id)!.manifestDigest, md);

    // A damaged blob: refused, and the store gains nothing.
    const other = new Store(path.join(dir, "store2")).init();
    fs.writeFileSync(path.join(blobs, sha256(gz).slice(7)), zlib.gzipSync(layerB));
    const before = state(other);
    await assert.rejects(
      loadArchive(other, { path: layout, label: layout }, () => {}),
      DigestMismatchError,
    );
    assert.deepEqual(state(other), before);
  });
});

test("a bad second image keeps the first one out of the store too", async () => {
  await withStore(async (store, dir) => {
    const c1 = configFor([layerA]);
    const c2 = configFor([layerB], [sha256("wrong")]);
    const tar = buildTar([
      { path: "c1.json", data: c1 },
      { path: "c2.json", data: c2 },
      { path: "a.tar", data: layerA },
      { path: "b.tar.gz", data: zlib.gzipSync(layerB) },
      {
        path: "manifest.json",
        data: JSON.stringify([
          { Config: "c1.json", RepoTags: ["one:1"], Layers: ["a.tar"] },
          { Config: "c2.json", RepoTags: ["two:1"], Layers: ["b.tar.gz"] },
        ]),
      },
    ]);
    const file = path.join(dir, "two.tar");
    fs.writeFileSync(file, tar);
    const before = state(store);
    await assert.rejects(
      loadArchive(store, { path: file, label: file }, () => {}),
      /diff_id/,
    );
    assert.deepEqual(state(store), before);
    assert.deepEqual(
      fs.readdirSync(store.paths.images).filter((n) => n.startsWith(".")),
      [],
      "no temp image left",
    );
  });
});

test("refuses hostile member names and manifest paths", async () => {
  await withStore(async (store, dir) => {
    const cases: [Buffer, RegExp][] = [
      [dockerArchive([layerA], { extra: [{ path: "../x", data: "x" }] }).tar, /leads outside the archive/],
      [dockerArchive([layerA], { extra: [{ path: "/abs", data: "x" }] }).tar, /absolute path/],
      [
        dockerArchive([layerA], { extra: [{ path: "s", type: "2", linkpath: "../../etc" }] }).tar,
        /outside the archive/,
      ],
      [dockerArchive([layerA], { extra: [{ path: "s", type: "2", linkpath: "/etc" }] }).tar, /absolute path/],
      [dockerArchive([layerA], { diffIds: [sha256("x")] }).tar, /diff_id/],
      [dockerArchive([buildTar([{ path: "../../evil", data: "x" }])]).tar, /refused/],
      [dockerArchive([layerA]).tar.subarray(0, 1500), /truncated|incomplete/],
    ];
    for (const [tar, message] of cases) {
      const file = path.join(dir, "bad.tar");
      fs.writeFileSync(file, tar);
      const before = state(store);
      await assert.rejects(
        loadArchive(store, { path: file, label: file }, () => {}),
        message,
      );
      assert.deepEqual(state(store), before);
    }
    assert.ok(!fs.existsSync(path.join(dir, "evil")));
  });
});

test("memberPath, digestInName, parseDockerManifest and parseLayoutIndex", () => {
  assert.equal(memberPath("./a/../b/layer.tar", "x"), "b/layer.tar");
  assert.throws(() => memberPath("../a", "x"), ArchiveError);
  assert.throws(() => memberPath("/a", "x"), /absolute/);
  const hex = "a".repeat(64);
  assert.equal(digestInName(`${hex}.json`), `sha256:${hex}`);
  assert.equal(digestInName(`blobs/sha256/${hex}`), `sha256:${hex}`);
  assert.equal(digestInName("config.json"), undefined);
  assert.throws(() => parseDockerManifest(Buffer.from("{}")), /lists no image/);
  assert.throws(() => parseDockerManifest(Buffer.from('[{"Config":"c","Layers":[1]}]')), /Layers/);
  const entries = parseLayoutIndex(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: `sha256:${hex}`,
            size: 1,
            annotations: {
              "io.containerd.image.name": "docker.io/library/alpine:3.20",
              "org.opencontainers.image.ref.name": "3.20",
            },
          },
        ],
      }),
    ),
  );
  assert.deepEqual(entries[0]!.names, ["docker.io/library/alpine:3.20"]);
});
