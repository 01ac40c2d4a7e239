// The blob upload protocol of the distribution spec: HEAD (already there?), cross-repository mount,
// POST then one monolithic PUT, or PATCH chunks then a closing PUT for large blobs; then the manifest.
import fs from "node:fs";
import { Transform } from "node:stream";
import type { Readable } from "node:stream";
import { RegistryError } from "../errors.js";
import type { RegistryClient } from "./client.js";
import { discard, header } from "./http.js";
import type { RawResponse } from "./http.js";
import type { Reference } from "./reference.js";

/**
 * Blobs larger than this are sent in PATCH chunks (a proxy or registry may refuse one huge request body);
 * smaller ones in one request, which a registry hashes as it arrives (chunks it may read again at the end).
 */
export const CHUNKED_ABOVE = 256 * 1024 * 1024;
/** The size of one PATCH chunk. */
export const CHUNK_BYTES = 64 * 1024 * 1024;

/** The reads of a blob being sent (1 MiB: fewer, larger writes to the socket than the 64 KiB default). */
const READ_CHUNK = 1024 * 1024;

/** One blob to send: its digest, size and the file that holds it. */
export interface BlobToPush {
  digest: string;
  size: number;
  file: string;
}

/** How a blob reached the registry. */
export type BlobOutcome = "exists" | "mounted" | "pushed";

/** The URL an upload goes on at: the Location an answer gave, resolved against the request's URL, with `query` added. */
export function uploadUrl(location: string, base: URL, query: Record<string, string> = {}): URL {
  const url = new URL(location, base);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url;
}

/** The Content-Range of a PATCH chunk, as the spec writes it: `start-end`, both inclusive. */
export function chunkRange(start: number, length: number): string {
  return `${start}-${start + length - 1}`;
}

/** The byte ranges a blob of `size` is sent in: one when it is at most `above`, else chunks of `chunk`. */
export function chunkPlan(size: number, above = CHUNKED_ABOVE, chunk = CHUNK_BYTES): [number, number][] {
  if (size <= above) return [[0, size]];
  const plan: [number, number][] = [];
  for (let start = 0; start < size; start += chunk) plan.push([start, Math.min(chunk, size - start)]);
  return plan;
}

/** Sends one blob unless the registry has it: HEAD, then a mount from `from` (same registry), then an upload. */
export async function pushBlob(
  client: RegistryClient,
  ref: Reference,
  blob: BlobToPush,
  from: string | undefined,
  onBytes?: (bytes: number) => void,
  /** Chunks of this size for blobs larger than it (BURROW_PUSH_CHUNK_MIB), else the defaults above. */
  chunkBytes?: number,
): Promise<BlobOutcome> {
  const what = `blob ${blob.digest} to ${ref.name}`;
  return client.pushExchange(ref.registry, what, async () => {
    if (await blobExists(client, ref, blob.digest)) return "exists";
    let location: string | undefined;
    let base: URL | undefined;
    if (from !== undefined && from !== ref.repository) {
      const path = `/v2/${ref.repository}/blobs/uploads/?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(from)}`;
      const scope = `repository:${ref.repository}:pull,push repository:${from}:pull`;
      const res = await client.pushRequest(ref, { method: "POST", path, scope });
      if (res.status === 201) {
        discard(res);
        return "mounted";
      }
      // 202: the registry did not mount and opened an upload instead; go on with it.
      if (res.status !== 202) throw client.pushStatusError(res, ref.registry, what);
      location = needLocation(res, what);
      base = res.url;
      discard(res);
    }
    if (location === undefined || base === undefined) {
      const res = await client.pushRequest(ref, {
        method: "POST",
        path: `/v2/${ref.repository}/blobs/uploads/`,
      });
      if (res.status !== 202) throw client.pushStatusError(res, ref.registry, what);
      location = needLocation(res, what);
      base = res.url;
      discard(res);
    }
    let sent = 0;
    const plan =
      chunkBytes === undefined ? chunkPlan(blob.size) : chunkPlan(blob.size, chunkBytes, chunkBytes);
    if (plan.length > 1) {
      for (const [start, length] of plan) {
        const res = await client.pushRequest(ref, {
          method: "PATCH",
          url: uploadUrl(location, base),
          headers: {
            "content-type": "application/octet-stream",
            "content-length": String(length),
            "content-range": chunkRange(start, length),
          },
          body: () =>
            counted(
              fs.createReadStream(blob.file, { start, end: start + length - 1, highWaterMark: READ_CHUNK }),
              sent,
              onBytes,
            ),
        });
        if (res.status !== 202) throw client.pushStatusError(res, ref.registry, what);
        location = needLocation(res, what);
        base = res.url;
        discard(res);
        sent += length;
      }
    }
    const whole = plan.length === 1;
    const res = await client.pushRequest(ref, {
      method: "PUT",
      url: uploadUrl(location, base, { digest: blob.digest }),
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(whole ? blob.size : 0),
      },
      body: () =>
        whole
          ? counted(fs.createReadStream(blob.file, { highWaterMark: READ_CHUNK }), 0, onBytes)
          : Buffer.alloc(0),
    });
    if (res.status !== 201) throw client.pushStatusError(res, ref.registry, what);
    discard(res);
    return "pushed";
  });
}

/** Whether the registry already has a blob in `ref`'s repository (HEAD: 200 yes, 404 no). */
export async function blobExists(client: RegistryClient, ref: Reference, digest: string): Promise<boolean> {
  const res = await client.pushRequest(ref, {
    method: "HEAD",
    path: `/v2/${ref.repository}/blobs/${digest}`,
  });
  discard(res);
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw client.pushStatusError(res, ref.registry, `blob ${digest} of ${ref.name}`);
}

/** Puts a manifest under `tagOrDigest` in `ref`'s repository, once its blobs are there; returns its digest as the registry tells it. */
export async function putManifest(
  client: RegistryClient,
  ref: Reference,
  tagOrDigest: string,
  mediaType: string,
  body: Buffer,
): Promise<string | undefined> {
  const what = `the manifest of ${ref.name}`;
  return client.pushExchange(ref.registry, what, async () => {
    const res = await client.pushRequest(ref, {
      method: "PUT",
      path: `/v2/${ref.repository}/manifests/${tagOrDigest}`,
      headers: { "content-type": mediaType, "content-length": String(body.length) },
      body: () => body,
    });
    if (res.status !== 201 && res.status !== 200) throw client.pushStatusError(res, ref.registry, what);
    discard(res);
    return header(res, "docker-content-digest");
  });
}

/** The Location of an upload answer; an answer without one cannot go on. */
function needLocation(res: RawResponse, what: string): string {
  const location = header(res, "location");
  if (location === undefined) {
    discard(res);
    throw new RegistryError(
      `the registry answered HTTP ${res.status} without a Location while sending ${what}`,
    );
  }
  return location;
}

/** `stream`, reporting the bytes sent so far (from `before`) as they pass. */
function counted(stream: Readable, before: number, onBytes?: (bytes: number) => void): Readable {
  if (!onBytes) return stream;
  let n = before;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      n += chunk.length;
      onBytes(n);
      done(null, chunk);
    },
  });
  stream.on("error", (err) => t.destroy(err));
  return stream.pipe(t);
}
