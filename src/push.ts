// `push`: an image from the store to a registry: the blobs the registry lacks (uploaded or mounted), then
// the manifest burrow stored when it got the image, byte for byte, so the digests stay the image's own.
import { StoreError } from "./errors.js";
import type { RegistryClient } from "./registry/client.js";
import type { Reference } from "./registry/reference.js";
import type { Store, ImageRecord } from "./store/store.js";
import type { BlobOutcome } from "./registry/upload.js";

/** What a push reports while it works (the CLI prints it). */
export interface PushEvents {
  blobStarted?(digest: string, size: number): void;
  blobProgress?(digest: string, bytes: number): void;
  blobDone?(digest: string, outcome: BlobOutcome, from?: string): void;
}

/** Everything one push needs. */
export interface PushOptions {
  store: Store;
  client: RegistryClient;
  image: ImageRecord;
  /** Where to: registry, repository and tag (or digest). */
  dest: Reference;
  concurrency: number;
  events?: PushEvents;
  /** Blobs larger than this go in chunks of this size (default: src/registry/upload.ts). */
  chunkBytes?: number | undefined;
}

/** The outcome of a push: the manifest's digest and size, and what happened to each blob. */
export interface PushResult {
  manifestDigest: string;
  manifestSize: number;
  outcomes: Map<string, BlobOutcome>;
}

/** The stored manifest's blobs (config, then layers), each checked to be in the store. */
export function manifestBlobs(
  store: Store,
  image: ImageRecord,
  manifest: Buffer,
): { digest: string; size: number }[] {
  let json: {
    config?: { digest?: unknown; size?: unknown };
    layers?: { digest?: unknown; size?: unknown }[];
  };
  try {
    json = JSON.parse(manifest.toString("utf8")) as typeof json;
  } catch {
    throw new StoreError(
      `the stored manifest of image ${image.id.slice(0, 12)} is not JSON: pull the image again`,
    );
  }
  const descriptors = [json.config, ...(json.layers ?? [])];
  const blobs: { digest: string; size: number }[] = [];
  for (const d of descriptors) {
    if (typeof d?.digest !== "string" || typeof d.size !== "number") {
      throw new StoreError(
        `the stored manifest of image ${image.id.slice(0, 12)} is not an image manifest: pull the image again`,
      );
    }
    if (!store.hasBlob(d.digest)) {
      throw new StoreError(
        `blob ${d.digest} of image ${image.id.slice(0, 12)} is not in the store, so it cannot be pushed: pull the image again`,
      );
    }
    if (!blobs.some((b) => b.digest === d.digest)) blobs.push({ digest: d.digest, size: d.size });
  }
  return blobs;
}

/** Pushes an image: every blob (a few at a time), then the manifest under the destination's tag or digest. */
export async function pushImage(opts: PushOptions): Promise<PushResult> {
  const { store, client, image, dest } = opts;
  const manifest = store.readBlob(image.manifestDigest);
  if (!manifest) {
    throw new StoreError(
      `image ${image.id.slice(0, 12)} has no stored manifest, so it cannot be pushed: pull the image again`,
    );
  }
  const blobs = manifestBlobs(store, image, manifest);
  const { pushBlob, putManifest } = await import("./registry/upload.js");
  // Blobs can be mounted from the repository the image came from when it is on the same registry.
  const from = mountSource(image.source, dest);
  const outcomes = new Map<string, BlobOutcome>();
  const queue = [...blobs];
  const worker = async (): Promise<void> => {
    for (let b = queue.shift(); b !== undefined; b = queue.shift()) {
      const blob = b;
      opts.events?.blobStarted?.(blob.digest, blob.size);
      const outcome = await pushBlob(
        client,
        dest,
        { ...blob, file: store.blobPath(blob.digest) },
        from,
        opts.events?.blobProgress ? (n) => opts.events?.blobProgress?.(blob.digest, n) : undefined,
        opts.chunkBytes,
      );
      outcomes.set(blob.digest, outcome);
      opts.events?.blobDone?.(blob.digest, outcome, outcome === "mounted" ? from : undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, blobs.length)) }, worker));
  const target = dest.digest ?? dest.tag ?? "latest";
  await putManifest(client, dest, target, image.manifestMediaType, manifest);
  return { manifestDigest: image.manifestDigest, manifestSize: manifest.length, outcomes };
}

/** The repository to mount blobs from: the image's source when it is on `dest`'s registry (else none). */
export function mountSource(source: string | undefined, dest: Reference): string | undefined {
  if (source === undefined || !source.startsWith(`${dest.registry}/`)) return undefined;
  const repo = source.slice(dest.registry.length + 1);
  return repo !== "" && repo !== dest.repository ? repo : undefined;
}
