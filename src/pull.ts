// Pulling an image: resolve it at the registry, fetch its blobs once, flatten them, publish atomically.
import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import type { Store, ImageRecord, LayerRecord } from "./store/store.js";
import { withLock } from "./store/lock.js";
import { digestHex } from "./store/paths.js";
import { summarizeTree } from "./store/summary.js";
import { StagedImage, sweepStaging } from "./store/staging.js";
import { makeScratch, removeScratch } from "./run/scratch.js";
import { storeFailure, BurrowError, DigestMismatchError } from "./errors.js";
import type { Reference } from "./registry/reference.js";
import type { Platform } from "./registry/platform.js";
import type { RegistryClient } from "./registry/client.js";
import { flattenLayers } from "./image/flatten.js";
import { OWNERS_FILE, OwnerCollector, writeOwners } from "./builder/layer-owners.js";
import { keepYoungGenerationSmall } from "./image/young-generation.js";
import { configDiffIds, ensureDiffIdsChecked, layerCountProblem } from "./image/diff-ids.js";

/** What a pull reports while it works (the progress display listens). */
export interface PullEvents {
  resolved?(layers: LayerRecord[]): void;
  layerCached?(digest: string): void;
  layerWaiting?(digest: string): void;
  layerProgress?(digest: string, bytes: number): void;
  layerDownloaded?(digest: string): void;
  extracting?(digest: string, index: number): void;
  extracted?(digest: string, index: number): void;
}

/** Everything one pull needs. */
export interface PullOptions {
  store: Store;
  client: RegistryClient;
  ref: Reference;
  platform: Platform;
  concurrency: number;
  events?: PullEvents;
  warn(message: string): void;
  /**
   * Keep the image as one SquashFS file (src/store/squashfs.ts): flattened in `scratchBase` (node-local),
   * packed with `mksquashfs`. Absent: a flattened folder in the store.
   */
  squashfs?: { mksquashfs: string; scratchBase: string } | undefined;
}

/** The outcome of a pull. */
export interface PullResult {
  image: ImageRecord;
  name: string;
  /**
   * `downloaded` when this pull flattened it, `uptodate` when the store already had it, `offline` when
   * burrow is offline and the store had it (not checked with the registry).
   */
  status: "downloaded" | "uptodate" | "offline";
}

/** Runs `fn` over `items` with at most `limit` at once; results keep the input order. */
function limited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R>[] {
  let active = 0;
  const queue: (() => void)[] = [];
  const next = (): void => {
    if (active < limit) queue.shift()?.();
  };
  return items.map(
    (item) =>
      new Promise<R>((resolve, reject) => {
        queue.push(() => {
          active++;
          fn(item)
            .then(resolve, reject)
            .finally(() => {
              active--;
              next();
            });
        });
        next();
      }),
  );
}

/** Deletes `<blob>.partial-*` files of one digest (only call while holding that blob's lock). */
function removePartials(store: Store, digest: string): void {
  const prefix = `${path.basename(store.blobPath(digest))}.partial-`;
  try {
    for (const n of fs.readdirSync(store.paths.blobs)) {
      if (n.startsWith(prefix)) fs.rmSync(path.join(store.paths.blobs, n), { force: true });
    }
  } catch {
    // Nothing to clean.
  }
}

/**
 * Hands a layer's bytes to the flattener while they download, so download and extraction overlap.
 * Offsets make restarts harmless: bytes already handed over are skipped. Backpressure holds the
 * download while the flattener is behind, so memory stays bounded (1 MiB ahead: with 4 MiB a pull's peak
 * RSS was a few MiB higher for no speed, bench/pull).
 */
class DownloadTap {
  readonly stream = new PassThrough({ highWaterMark: 1 << 20 });
  private delivered = 0;
  private markStarted!: () => void;
  /** Settles when the first byte arrives (a download by this process is under way). */
  readonly started = new Promise<void>((resolve) => (this.markStarted = resolve));

  async push(chunk: Buffer, offset: number): Promise<void> {
    this.markStarted();
    // A reader that gave up (its flatten failed) lets the download finish on its own, so that a
    // corrupt blob is still reported as a digest mismatch.
    if (this.stream.destroyed) return;
    const end = offset + chunk.length;
    if (end <= this.delivered) return;
    if (offset > this.delivered)
      throw new Error(`download resumed at ${offset}, past the ${this.delivered} bytes handed over`);
    const part = offset < this.delivered ? chunk.subarray(this.delivered - offset) : chunk;
    this.delivered = end;
    if (this.stream.write(part)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.stream.off("drain", done);
        this.stream.off("close", done);
        resolve();
      };
      this.stream.once("drain", done);
      this.stream.once("close", done);
    });
  }
}

/**
 * An image's config blob: the store's copy when it has one (checked against its digest), else fetched
 * once under the blob's lock, so that many tasks pulling one image at once (a job array) download it
 * once, as they do its layers.
 */
async function storedConfig(store: Store, digest: string, fetch: () => Promise<Buffer>): Promise<Buffer> {
  const { digestOf } = await import("./registry/digest.js");
  const stored = (): Buffer | undefined => {
    const blob = store.readBlob(digest);
    return blob !== undefined && digestOf(blob, digest.split(":")[0]) === digest ? blob : undefined;
  };
  return (
    stored() ??
    withLock(store.paths.locks, `blob-${digestHex(digest)}`, async () => {
      const again = stored();
      if (again !== undefined) return again;
      const blob = await fetch();
      store.putBlob(digest, blob);
      return blob;
    })
  );
}

/** Pulls `ref` into the store and names it; concurrent pulls of one image download and flatten it once. */
export async function pullImage(opts: PullOptions): Promise<PullResult> {
  keepYoungGenerationSmall();
  const { store, client, ref } = opts;
  const ev = opts.events ?? {};
  // What killed pulls, loads and imports left goes first, whatever this pull finds.
  sweepStaging(store);
  const resolved = await client.resolveImage(ref, opts.platform, (descriptor, fetch) =>
    storedConfig(store, descriptor.digest, fetch),
  );
  if (!resolved.platformMatches && resolved.platform) {
    const { formatPlatform } = await import("./registry/platform.js");
    opts.warn(
      `${ref.toString()} is built for ${formatPlatform(resolved.platform)}, not ${formatPlatform(opts.platform)}: it may not run here`,
    );
  }
  const id = digestHex(resolved.configDigest);
  const name = ref.toString();
  const layers: LayerRecord[] = resolved.manifest.layers.map((l) => ({
    digest: l.digest,
    size: l.size,
    mediaType: l.mediaType,
  }));
  const digests = [
    resolved.configDigest,
    resolved.manifestDigest,
    ...(resolved.indexDigest ? [resolved.indexDigest] : []),
    ...layers.map((l) => l.digest),
  ];
  const claim = await store.claimBlobs(digests);
  try {
    // The image id is the config's digest: only layers that are the config's own may be stored under it.
    const diffIds = configDiffIds(resolved.config, (why, cause) =>
      forged(name, `its config ${why}`, { cause }),
    );
    const countProblem = layerCountProblem(layers.length, diffIds);
    if (countProblem !== undefined) throw forged(name, countProblem);
    store.putBlob(resolved.configDigest, resolved.config);
    store.putBlob(resolved.manifestDigest, resolved.manifestBody);
    if (resolved.indexDigest && resolved.indexBody) store.putBlob(resolved.indexDigest, resolved.indexBody);
    let status: PullResult["status"] = "uptodate";
    let image = store.readImage(id);
    if (image) {
      image = await ensureDiffIdsChecked(store, image, diffIds);
    } else {
      ev.resolved?.(layers);
      image = await withLock(store.paths.locks, `image-${id}`, async () => {
        const existing = store.readImage(id);
        if (existing) return existing;
        status = "downloaded";
        try {
          return await buildImage(opts, id, layers, diffIds, resolved, true);
        } catch (err) {
          if (!(err instanceof StreamedBytesReplaced)) throw err;
          // The layer flattened while it downloaded came, in the end, from another place (a mirror sent
          // bytes that failed their digest): flatten again from the verified blobs.
          return buildImage(opts, id, layers, diffIds, resolved, false);
        }
      });
      if (status === "uptodate") image = await ensureDiffIdsChecked(store, image, diffIds);
    }
    store.setRef(name, id, resolved.manifestDigest);
    return { image, name, status };
  } catch (err) {
    if (err instanceof DigestMismatchError) {
      // A refused image leaves nothing behind: what this pull fetched for it goes unless an image uses it.
      claim.release();
      await store.collectBlobs(digests).catch(() => undefined);
    }
    if (err instanceof BurrowError) throw err;
    throw storeFailure(`cannot pull ${name}`, err);
  } finally {
    claim.release();
  }
}

/** The refusal of an image whose layers are not the ones its config (whose digest is its id) names. */
function forged(name: string, why: string, options?: { cause?: unknown }): DigestMismatchError {
  return new DigestMismatchError(
    `refusing ${name}: ${why}: a broken image, or one forged from another image's config; nothing was stored`,
    options,
  );
}

type Resolved = Awaited<ReturnType<RegistryClient["resolveImage"]>>;

/**
 * The layer flattened from its download failed, yet the download was then verified: the bytes streamed
 * were not the blob's (a mirror's, replaced by another place's), so the flatten must be done again.
 */
class StreamedBytesReplaced extends Error {}

/** Downloads missing blobs (in parallel) and flattens them in order into a temp folder, then publishes it. */
async function buildImage(
  opts: PullOptions,
  id: string,
  layers: LayerRecord[],
  diffIds: string[],
  resolved: Resolved,
  streaming: boolean,
): Promise<ImageRecord> {
  const { store, client, ref } = opts;
  const ev = opts.events ?? {};
  // What killed pulls, loads and imports left goes first, whatever this pull finds.
  sweepStaging(store);
  const downloads = new Map<string, Promise<void>>();
  // A failed build stops the downloads still running, so that nothing lands in the store after it.
  const stop = new AbortController();
  const unique = [...new Map(layers.map((l) => [l.digest, l])).values()];
  // The first layer not yet in the store is flattened straight from its download.
  const tapped = streaming ? layers.find((l) => !store.hasBlob(l.digest))?.digest : undefined;
  const tap = tapped !== undefined ? new DownloadTap() : undefined;
  const fetches = limited(unique, Math.max(1, opts.concurrency), async (layer) => {
    if (stop.signal.aborted) return;
    if (store.hasBlob(layer.digest)) {
      ev.layerCached?.(layer.digest);
      return;
    }
    await withLock(
      store.paths.locks,
      `blob-${digestHex(layer.digest)}`,
      async () => {
        if (store.hasBlob(layer.digest)) {
          ev.layerCached?.(layer.digest);
          return;
        }
        if (stop.signal.aborted) return;
        // Holding the blob's lock, any partial download of it was left by a process that died.
        removePartials(store, layer.digest);
        const useTap = tap !== undefined && layer.digest === tapped;
        try {
          await client.downloadBlob(ref, layer, store.blobPath(layer.digest), {
            onProgress: (bytes: number) => ev.layerProgress?.(layer.digest, bytes),
            signal: stop.signal,
            ...(useTap ? { onChunk: (chunk: Buffer, offset: number) => tap.push(chunk, offset) } : {}),
          });
        } catch (err) {
          if (useTap) tap.stream.destroy(err as Error);
          throw err;
        }
        if (useTap) tap.stream.end();
        ev.layerDownloaded?.(layer.digest);
      },
      { onWait: () => ev.layerWaiting?.(layer.digest) },
    );
  });
  unique.forEach((l, i) => downloads.set(l.digest, fetches[i]!));
  // Do not leave unobserved rejections behind if flattening fails first.
  for (const p of fetches) p.catch(() => undefined);

  const staged = new StagedImage(store, id);
  // In SquashFS format the tree is flattened outside the store, then packed into the staged folder.
  const squash = opts.squashfs;
  if (squash !== undefined) (await import("./run/sweep.js")).sweepAbandonedScratch(squash.scratchBase);
  const scratch = squash !== undefined ? makeScratch(squash.scratchBase) : undefined;
  const flatRoot = scratch !== undefined ? path.join(scratch, "rootfs") : staged.rootfs;
  if (scratch !== undefined) fs.mkdirSync(flatRoot, { mode: 0o755 });
  try {
    let tapUsed = false;
    // The owners the layers give (other than root), kept beside the rootfs for builds on this image.
    const owners = new OwnerCollector();
    for (const [i, layer] of layers.entries()) {
      let stream: PassThrough | undefined;
      if (tap && layer.digest === tapped && !tapUsed) {
        tapUsed = true;
        // Stream it if this process is downloading it; else (another process did) read the file.
        const how = await Promise.race([
          tap.started.then(() => "stream" as const),
          downloads.get(layer.digest)!.then(() => "file" as const),
        ]);
        if (how === "stream") stream = tap.stream;
        else tap.stream.destroy();
      } else {
        await downloads.get(layer.digest);
      }
      ev.extracting?.(layer.digest, i);
      try {
        await flattenLayers(
          flatRoot,
          [
            {
              digest: layer.digest,
              mediaType: layer.mediaType,
              file: store.blobPath(layer.digest),
              size: layer.size,
              stream,
              // Checked while it is extracted: the rootfs is published only if every layer matches.
              diffId: diffIds[i],
              label: `layer ${i + 1} (${layer.digest})`,
            },
          ],
          { warn: opts.warn, entries: owners },
        );
      } catch (err) {
        // Let the download this flatten was reading finish: if the blob fails its digest (a corrupt
        // blob reads as a corrupt layer), that is the error to report.
        stream?.destroy();
        await downloads.get(layer.digest);
        if (stream !== undefined && client.hasMirrors(ref) && store.hasBlob(layer.digest)) {
          throw new StreamedBytesReplaced();
        }
        throw err instanceof DigestMismatchError ? forged(ref.toString(), err.message, { cause: err }) : err;
      }
      ev.extracted?.(layer.digest, i);
    }
    await Promise.all(fetches);
    const config = JSON.parse(resolved.config.toString("utf8")) as {
      os?: string;
      architecture?: string;
      variant?: string;
    };
    const record: ImageRecord = {
      id,
      configDigest: resolved.configDigest,
      manifestDigest: resolved.manifestDigest,
      manifestMediaType: resolved.manifest.mediaType,
      indexDigest: resolved.indexDigest,
      layers,
      platform: {
        os: config.os ?? "linux",
        architecture: config.architecture ?? "unknown",
        variant: config.variant,
      },
      source: `${ref.registry}/${ref.repository}`,
      pulledAt: new Date().toISOString(),
      rootfs: summarizeTree(flatRoot),
      diffIds,
    };
    if (squash !== undefined) {
      const { packStagedImage } = await import("./store/squashfs.js");
      await packStagedImage(staged, flatRoot, squash.mksquashfs, record);
    }
    writeOwners(path.join(staged.dir, OWNERS_FILE), owners.owners);
    if (!staged.publish(record)) return store.readImage(id) ?? record;
    return record;
  } catch (err) {
    stop.abort(err);
    await Promise.allSettled(fetches);
    staged.discard();
    throw err;
  } finally {
    if (scratch !== undefined) removeScratch(scratch);
  }
}
