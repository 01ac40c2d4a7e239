// `save`: images of the store as one tar that is both a docker-save archive and an OCI image layout.
import fs from "node:fs";
import { createHash } from "node:crypto";
import type { Writable } from "node:stream";
import type { Store, ImageRecord } from "../store/store.js";
import { ArchiveError, StoreError } from "../errors.js";
import { MediaType, parseManifest } from "../registry/manifest.js";
import type { Descriptor } from "../registry/manifest.js";
import { parseReference } from "../registry/reference.js";
import { MANIFEST_JSON, configDiffIds } from "./docker-archive.js";
import type { DockerArchiveEntry } from "./docker-archive.js";
import {
  INDEX_JSON,
  OCI_LAYOUT_BODY,
  OCI_LAYOUT_FILE,
  buildIndex,
  indexEntry,
  layoutBlobPath,
} from "./oci-layout.js";

/** One image to save and the names it is saved under (canonical names; none when saved by id). */
export interface SaveItem {
  image: ImageRecord;
  names: string[];
}

/** One member of the archive: bytes in memory, or a store blob streamed and checked against its digest. */
type Member =
  | { kind: "dir"; path: string }
  | { kind: "data"; path: string; data: Buffer }
  | { kind: "blob"; path: string; file: string; size: number; digest: string };

/** The members of the archive, in the order they are written. */
export interface SavePlan {
  members: Member[];
  /** Bytes of layer, config and manifest blobs. */
  bytes: number;
}

/** The image's manifest from the store when it describes exactly the record's config and layers. */
function originalManifest(store: Store, image: ImageRecord): { body: Buffer; mediaType: string } | undefined {
  const body = store.readBlob(image.manifestDigest);
  if (!body) return undefined;
  if (`sha256:${createHash("sha256").update(body).digest("hex")}` !== image.manifestDigest) return undefined;
  try {
    const parsed = parseManifest(body, image.manifestMediaType, image.id);
    if (parsed.kind !== "manifest") return undefined;
    const m = parsed.manifest;
    if (m.config.digest !== image.configDigest) return undefined;
    if (m.layers.length !== image.layers.length) return undefined;
    if (m.layers.some((l, i) => l.digest !== image.layers[i]!.digest)) return undefined;
    return { body, mediaType: m.mediaType };
  } catch {
    return undefined;
  }
}

/** An OCI manifest for a record whose own manifest is not in the store (or does not match it). */
function synthesizedManifest(image: ImageRecord, configSize: number): { body: Buffer; mediaType: string } {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: image.configDigest, size: configSize },
    layers: image.layers.map((l) => ({
      mediaType: l.mediaType || MediaType.OciLayerTar,
      digest: l.digest,
      size: l.size,
    })),
  };
  return { body: Buffer.from(JSON.stringify(manifest)), mediaType: MediaType.OciManifest };
}

/** The familiar form docker writes in RepoTags (`alpine:3.20`, `host:5000/repo:1`). */
function repoTag(name: string): string {
  return parseReference(name).toFamiliarString();
}

/**
 * Plans the archive: checks that every blob the images need is in the store (a missing one is named, and
 * nothing is written), then lays out blobs once under `blobs/sha256/`, with `manifest.json` and
 * `index.json` both pointing at them.
 */
export function planSave(store: Store, items: SaveItem[]): SavePlan {
  const blobs = new Map<string, Member & { kind: "blob" | "data" }>();
  const dockerEntries: DockerArchiveEntry[] = [];
  const index: Descriptor[] = [];
  let bytes = 0;
  const addBlob = (digest: string, what: string, label: string): number => {
    const file = store.blobPath(digest);
    let size: number;
    try {
      const st = fs.statSync(file);
      if (!st.isFile()) throw new Error("not a file");
      size = st.size;
    } catch {
      throw new StoreError(
        `cannot save ${label}: its ${what} ${digest} is not in the store (an image made without its blobs, or they were removed): pull the image again, then save it`,
      );
    }
    if (!blobs.has(digest)) {
      blobs.set(digest, { kind: "blob", path: layoutBlobPath(digest), file, size, digest });
      bytes += size;
    }
    return size;
  };
  for (const { image, names } of items) {
    const label = names[0] !== undefined ? repoTag(names[0]) : `image ${image.id.slice(0, 12)}`;
    const configSize = addBlob(image.configDigest, "config", label);
    const diffIds = configDiffIds(store.readBlob(image.configDigest)!, label);
    if (diffIds.length !== image.layers.length) {
      throw new ArchiveError(
        `cannot save ${label}: its config lists ${diffIds.length} layers and its manifest ${image.layers.length}`,
      );
    }
    image.layers.forEach((l, i) => addBlob(l.digest, `layer ${i + 1} of ${image.layers.length}`, label));
    const manifest = originalManifest(store, image) ?? synthesizedManifest(image, configSize);
    const manifestDigest = `sha256:${createHash("sha256").update(manifest.body).digest("hex")}`;
    if (!blobs.has(manifestDigest)) {
      blobs.set(manifestDigest, { kind: "data", path: layoutBlobPath(manifestDigest), data: manifest.body });
      bytes += manifest.body.length;
    }
    const descriptor: Descriptor = {
      mediaType: manifest.mediaType,
      digest: manifestDigest,
      size: manifest.body.length,
    };
    if (names.length === 0) index.push(indexEntry(descriptor, undefined));
    for (const n of names) index.push(indexEntry(descriptor, n));
    dockerEntries.push({
      Config: layoutBlobPath(image.configDigest),
      RepoTags: names.map(repoTag),
      Layers: image.layers.map((l) => layoutBlobPath(l.digest)),
    });
  }
  const members: Member[] = [
    { kind: "dir", path: "blobs/" },
    { kind: "dir", path: "blobs/sha256/" },
    ...blobs.values(),
    { kind: "data", path: OCI_LAYOUT_FILE, data: Buffer.from(OCI_LAYOUT_BODY) },
    { kind: "data", path: INDEX_JSON, data: buildIndex(index) },
    { kind: "data", path: MANIFEST_JSON, data: Buffer.from(JSON.stringify(dockerEntries)) },
  ];
  return { members, bytes };
}

/** Writes `value` as NUL-terminated octal, or GNU base-256 when it does not fit (sizes over 8 GiB). */
function numberField(h: Buffer, offset: number, width: number, value: number): void {
  const text = value.toString(8);
  if (text.length <= width - 1) {
    h.write(text.padStart(width - 1, "0") + "\0", offset, width, "ascii");
    return;
  }
  let v = value;
  for (let i = width - 1; i > 0; i--) {
    h[offset + i] = v % 256;
    v = Math.floor(v / 256);
  }
  h[offset] = 0x80;
}

/** One ustar header (names here are short and ASCII: `blobs/sha256/<hex>` at most). */
export function tarHeader(name: string, type: "0" | "5", size: number, mode: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar member name too long: ${name}`);
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  numberField(h, 100, 8, mode);
  numberField(h, 108, 8, 0);
  numberField(h, 116, 8, 0);
  numberField(h, 124, 12, size);
  numberField(h, 136, 12, 0);
  h.write(type, 156, 1, "ascii");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return h;
}

/** Writes a chunk, waiting for the stream to drain when its buffer is full. */
async function put(out: Writable, chunk: Buffer): Promise<void> {
  if (out.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      out.off("drain", done);
      out.off("error", fail);
      out.off("close", closed);
      resolve();
    };
    const fail = (err: Error): void => {
      out.off("drain", done);
      out.off("close", closed);
      reject(err);
    };
    const closed = (): void => fail(new Error("the output was closed"));
    out.once("drain", done);
    out.once("error", fail);
    out.once("close", closed);
  });
}

/** Streams a store blob into the archive, checking that it is still the size and digest it should be. */
async function putBlob(out: Writable, m: Member & { kind: "blob" }): Promise<void> {
  const hash = createHash("sha256");
  let sent = 0;
  for await (const chunk of fs.createReadStream(m.file, { highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer;
    const part = sent + buf.length > m.size ? buf.subarray(0, m.size - sent) : buf;
    hash.update(part);
    sent += part.length;
    await put(out, part);
    if (sent === m.size) break;
  }
  const got = `sha256:${hash.digest("hex")}`;
  if (sent !== m.size || got !== m.digest) {
    throw new StoreError(
      `blob ${m.digest} in the store is damaged (it hashes to ${got}): run 'burrow verify' on the image and pull it again`,
    );
  }
}

/** Writes the planned archive to `out` (not ended: the caller closes it). */
export async function writeSave(
  plan: SavePlan,
  out: Writable,
  onBytes?: (bytes: number) => void,
): Promise<void> {
  let written = 0;
  for (const m of plan.members) {
    if (m.kind === "dir") {
      await put(out, tarHeader(m.path, "5", 0, 0o755));
      continue;
    }
    const size = m.kind === "data" ? m.data.length : m.size;
    await put(out, tarHeader(m.path, "0", size, 0o644));
    if (m.kind === "data") await put(out, m.data);
    else await putBlob(out, m);
    const pad = (512 - (size % 512)) % 512;
    if (pad > 0) await put(out, Buffer.alloc(pad));
    written += size;
    onBytes?.(written);
  }
  await put(out, Buffer.alloc(1024));
}
