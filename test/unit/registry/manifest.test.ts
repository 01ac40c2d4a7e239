// Manifest parsing: media types from the header or the body, validation, and schema 1 refusal.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MediaType, parseManifest } from "../../../src/registry/manifest.js";
import { UnsupportedManifestError } from "../../../src/errors.js";

const digest = "sha256:" + "b".repeat(64);
const desc = (mediaType: string): object => ({ mediaType, digest, size: 3 });
const buf = (o: object): Buffer => Buffer.from(JSON.stringify(o));

test("parses a Docker v2 manifest by its Content-Type", () => {
  const p = parseManifest(
    buf({
      schemaVersion: 2,
      config: desc(MediaType.DockerConfig),
      layers: [desc(MediaType.DockerLayerGzip)],
    }),
    `${MediaType.DockerManifest}; charset=utf-8`,
    "x",
  );
  assert.equal(p.kind, "manifest");
  if (p.kind === "manifest") {
    assert.equal(p.manifest.mediaType, MediaType.DockerManifest);
    assert.deepEqual(p.manifest.layers, [{ mediaType: MediaType.DockerLayerGzip, digest, size: 3 }]);
  }
});

test("an OCI index without mediaType is recognised by its fields", () => {
  const p = parseManifest(
    buf({
      schemaVersion: 2,
      manifests: [{ ...desc(MediaType.OciManifest), platform: { os: "linux", architecture: "amd64" } }],
    }),
    "application/octet-stream",
    "x",
  );
  assert.equal(p.kind, "index");
  if (p.kind === "index") assert.equal(p.index.manifests[0]!.platform?.architecture, "amd64");
});

test("refuses schema 1, unknown types and broken descriptors", () => {
  const refuse = (body: Buffer, type: string | undefined, re: RegExp): void =>
    assert.throws(
      () => parseManifest(body, type, "docker.io/library/old:1"),
      (e: Error) => e instanceof UnsupportedManifestError && re.test(e.message),
    );
  refuse(
    buf({ schemaVersion: 1, fsLayers: [] }),
    "application/json",
    /docker.io\/library\/old:1 uses the Docker schema 1/,
  );
  refuse(buf({ schemaVersion: 2 }), MediaType.DockerSchema1Signed, /schema 1/);
  refuse(
    buf({ schemaVersion: 2, mediaType: "application/vnd.cncf.helm.chart" }),
    undefined,
    /unsupported media type/,
  );
  refuse(Buffer.from("<html>"), undefined, /not JSON/);
  refuse(
    buf({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: desc(MediaType.OciConfig),
      layers: [{ mediaType: "x", digest: "sha256:12", size: 1 }],
    }),
    undefined,
    /layer 1 of .*bad digest/,
  );
  refuse(
    buf({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { ...desc(MediaType.OciConfig), size: -1 },
      layers: [],
    }),
    undefined,
    /size is not a non-negative integer/,
  );
});
