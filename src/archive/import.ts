// Importing a rootfs tarball (plain, gzip or zstd) as a one-layer image, published like a pulled one.
import { makeScratch, removeScratch as removeRunScratch } from "../run/scratch.js";
import { isSquashfsFile, packStagedImage, squashfsAsTar } from "../store/squashfs.js";
import type { SquashfsOutput } from "../store/squashfs.js";
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import type { Store, ImageRecord, LayerRecord } from "../store/store.js";
import type { ContainerRecord } from "../store/containers.js";
import { withLock } from "../store/lock.js";
import { randomHex } from "../store/random.js";
import { digestHex } from "../store/paths.js";
import { summarizeTree } from "../store/summary.js";
import { StagedImage, removeScratch, scratchPath, sweepStaging } from "../store/staging.js";
import { flattenLayers } from "../image/flatten.js";
import {
  DecompressError,
  decompressFile,
  readHead,
  sniffCompression,
  unsupportedCompression,
  type Compression,
} from "../image/decompress.js";
import { hostPlatform, type Platform } from "../registry/platform.js";
import { MediaType } from "../registry/manifest.js";
import { BurrowError, InvalidArgumentError, LayerFormatError, storeFailure } from "../errors.js";

/** What to import and how. */
export interface ImportOptions {
  store: Store;
  /** The tarball's path, or a stream of its bytes (stdin). */
  input: string | Readable;
  /** How messages name the input (the path as given, or "stdin"). */
  label: string;
  /** The normalised name to give the image; none leaves it listed by id only. */
  name?: string | undefined;
  /** Remove the input file once the image is published (never a stream). */
  move?: boolean | undefined;
  /** Told about content the flattener skips (device nodes). */
  warn(message: string): void;
  /** The time recorded as the image's creation (tests pin it). */
  now?: Date | undefined;
  /** The image config to record for the layer's diff_id (default: importConfig's, for this machine). */
  config?: ((diff: string, created: Date) => Buffer) | undefined;
  /** The platform the image is recorded for (default: this machine's); goes with `config`. */
  platform?: Platform | undefined;
  /** Keep the image as one SquashFS file (src/store/squashfs.ts), flattened in node-local scratch. */
  squashfs?: SquashfsOutput | undefined;
}

/** What an import made. */
export interface ImportResult {
  image: ImageRecord;
  name?: string | undefined;
}

const LAYER_MEDIA_TYPE: Record<Compression, string> = {
  none: MediaType.OciLayerTar,
  gzip: MediaType.OciLayerGzip,
  zstd: MediaType.OciLayerZstd,
};

/** A reason from a system error without Node's syscall and path decoration. */
function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const m = /^[A-Z]+: ([^,]+),/.exec(e.message ?? "");
  return m ? m[1]! : (e.message ?? String(err));
}

/**
 * Puts the input's bytes at `blob` and returns their sha256 and size. A file given with `move` is
 * hardlinked where it lies on the store's file system (no copy; the name goes only after success).
 */
export async function stageInput(
  input: string | Readable,
  label: string,
  blob: string,
  move: boolean,
): Promise<{ digest: string; size: number }> {
  if (typeof input === "string") {
    let st: fs.Stats;
    try {
      st = fs.statSync(input);
    } catch (err) {
      throw new InvalidArgumentError(`cannot read ${label}: ${reason(err)}`, { cause: err });
    }
    if (!st.isFile()) throw new InvalidArgumentError(`${label} is not a file: give a tarball to import`);
    if (move) {
      try {
        fs.linkSync(input, blob);
        return await hashFile(blob);
      } catch (err) {
        fs.rmSync(blob, { force: true });
        if ((err as NodeJS.ErrnoException).code === undefined) throw err;
        // Another file system, or links not allowed: copy.
      }
    }
  }
  const hash = createHash("sha256");
  let size = 0;
  let source: Readable;
  try {
    source = typeof input === "string" ? fs.createReadStream(input, { highWaterMark: 1 << 20 }) : input;
  } catch (err) {
    throw new InvalidArgumentError(`cannot read ${label}: ${reason(err)}`, { cause: err });
  }
  const fd = fs.openSync(blob, "wx", 0o644);
  try {
    try {
      for await (const chunk of source) {
        const b = chunk as Buffer;
        hash.update(b);
        size += b.length;
        for (let off = 0; off < b.length;) off += fs.writeSync(fd, b, off, b.length - off);
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOSPC" || code === "EDQUOT") throw storeFailure(`cannot import ${label}`, err);
      throw new InvalidArgumentError(`cannot read ${label}: ${reason(err)}`, { cause: err });
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

async function hashFile(file: string): Promise<{ digest: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

/** The sha256 of the uncompressed tar (the layer's diff_id). */
async function diffId(blob: string, compression: Compression, layerDigest: string): Promise<string> {
  if (compression === "none") return layerDigest;
  const hash = createHash("sha256");
  for await (const chunk of decompressFile(blob, compression)) hash.update(chunk);
  return `sha256:${hash.digest("hex")}`;
}

/** The flattener names the layer it reads; for an import the label is named once, in front. */
function importError(err: unknown, label: string, marker: string): unknown {
  if (!(err instanceof BurrowError)) return err;
  const msg = err.message
    .replace(`layer ${marker}, `, "")
    .replace(`layer ${marker}: `, "")
    .replace(marker, label);
  const Cls = err.constructor as new (m: string, o?: { cause?: unknown }) => BurrowError;
  return new Cls(`cannot import ${label}: ${msg}`, { cause: err });
}

/** The OCI image config of an imported rootfs: host platform, one diff_id, one history entry. */
export function importConfig(diff: string, created: Date, label: string): Buffer {
  const platform = hostPlatform();
  const config = {
    created: created.toISOString(),
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    os: platform.os,
    config: {},
    rootfs: { type: "layers", diff_ids: [diff] },
    history: [
      { created: created.toISOString(), created_by: "burrow import", comment: `imported from ${label}` },
    ],
  };
  return Buffer.from(JSON.stringify(config));
}

/** Imports the tarball as a one-layer image; nothing is visible in the store unless it all succeeds. */
export async function importTarball(opts: ImportOptions): Promise<ImportResult> {
  const { store, label } = opts;
  if (opts.move && typeof opts.input !== "string") {
    throw new InvalidArgumentError("--mv removes the file imported: it cannot be used with - (stdin)");
  }
  sweepStaging(store);
  const staged = scratchPath(store, "import-blob");
  let image: StagedImage | undefined;
  let scratch: string | undefined;
  try {
    const { digest, size } = await stageInput(opts.input, label, staged, opts.move === true);
    if (size === 0) throw new LayerFormatError(`cannot import ${label}: it is empty, not a tarball`);
    const head = readHead(staged, 8);
    const unsupported = unsupportedCompression(head);
    if (unsupported !== undefined) {
      throw new LayerFormatError(
        `cannot import ${label}: ${unsupported}-compressed tarballs are not supported: decompress it first, or recompress it with gzip or zstd`,
      );
    }
    const compression = sniffCompression(head);
    const mediaType = LAYER_MEDIA_TYPE[compression];
    // The flattener checks every member (paths that climb out, links that escape, truncation) and
    // builds the rootfs in a temporary folder; the layer is named by a marker its messages carry.
    const marker = `import-${randomHex(4)}`;
    const created = opts.now ?? new Date();
    let diff: string;
    try {
      diff = await diffId(staged, compression, digest);
    } catch (err) {
      if (err instanceof DecompressError) {
        throw new LayerFormatError(`cannot import ${label}: ${err.message}`, { cause: err });
      }
      throw err;
    }
    const config = opts.config ? opts.config(diff, created) : importConfig(diff, created, label);
    const configDigest = `sha256:${createHash("sha256").update(config).digest("hex")}`;
    const id = digestHex(configDigest);
    const layers: LayerRecord[] = [{ digest, size, mediaType }];
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: configDigest, size: config.length },
        layers,
      }),
    );
    const manifestDigest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;

    image = new StagedImage(store, id);
    // In the squashfs format the tree is flattened outside the store, then packed into the staged folder.
    if (opts.squashfs !== undefined) {
      (await import("../run/sweep.js")).sweepAbandonedScratch(opts.squashfs.scratchBase);
      scratch = makeScratch(opts.squashfs.scratchBase);
      fs.mkdirSync(path.join(scratch, "rootfs"), { mode: 0o755 });
    }
    const flatRoot = scratch !== undefined ? path.join(scratch, "rootfs") : image.rootfs;
    try {
      await flattenLayers(
        flatRoot,
        [{ digest: marker, mediaType, file: staged, size, diffId: diff, label: marker }],
        { warn: (m) => opts.warn(m.replace(`layer ${marker}`, label)) },
      );
    } catch (err) {
      throw importError(err, label, marker);
    }
    const record: ImageRecord = {
      id,
      configDigest,
      manifestDigest,
      manifestMediaType: MediaType.OciManifest,
      layers,
      platform: opts.platform ?? hostPlatform(),
      source: `import ${label}`,
      pulledAt: created.toISOString(),
      rootfs: summarizeTree(flatRoot),
      diffIds: [diff],
    };
    if (opts.squashfs !== undefined) await packStagedImage(image, flatRoot, opts.squashfs.mksquashfs, record);

    const claim = await store.claimBlobs([configDigest, manifestDigest, digest]);
    try {
      store.putBlob(configDigest, config);
      store.putBlob(manifestDigest, manifest);
      await withLock(store.paths.locks, `blob-${digestHex(digest)}`, async () => {
        if (store.hasBlob(digest)) fs.rmSync(staged, { force: true });
        else fs.renameSync(staged, store.blobPath(digest));
      });
      // Publishing removes the staged folder itself when another process published this id first.
      image.publish(record);
      if (opts.name !== undefined) store.setRef(opts.name, id, manifestDigest);
    } finally {
      claim.release();
    }
    if (opts.move && typeof opts.input === "string") {
      try {
        fs.rmSync(opts.input);
      } catch (err) {
        opts.warn(`imported, but cannot remove ${label}: ${reason(err)}`);
      }
    }
    return { image: store.readImage(id) ?? record, name: opts.name };
  } catch (err) {
    if (err instanceof BurrowError) throw err;
    throw storeFailure(`cannot import ${label}`, err);
  } finally {
    removeScratch(staged);
    image?.discard();
    if (scratch !== undefined) removeRunScratch(scratch);
  }
}

/**
 * importTarball for a file that may also be a SquashFS file (`save --format squashfs`, ch-convert, enroot):
 * such a file's tree is read as the tarball (src/store/squashfs.ts squashfsAsTar); `move` removes it once
 * imported. `env` finds unsquashfs and the node-local scratch.
 */
export async function importFile(opts: ImportOptions, env: NodeJS.ProcessEnv): Promise<ImportResult> {
  const { input } = opts;
  if (typeof input !== "string" || !isSquashfsFile(input)) return importTarball(opts);
  const unpacked = await squashfsAsTar(input, env, opts.store.paths.root);
  let result: ImportResult;
  try {
    result = await importTarball({ ...opts, input: unpacked.stream as Readable, move: false });
  } finally {
    unpacked.close();
  }
  if (opts.move) fs.rmSync(input, { force: true });
  return result;
}

/**
 * Makes a container of an imported image (`import --tocontainer`): an overlay layer over the image where
 * the kernel can mount one here (a run converts an unchanged one for engines that cannot), else a copy of
 * the image's files, made before the container becomes visible.
 */
export async function containerFromImage(
  store: Store,
  image: ImageRecord,
  name: string | undefined,
  carried: {
    imageName?: string | undefined;
    engine?: string | undefined;
    execmode?: string | undefined;
  } = {},
): Promise<ContainerRecord> {
  const { containersOf } = await import("../store/containers.js");
  const { overlayPossibleAt } = await import("../run/overlay.js");
  const { copyTree } = await import("../fs/copy-tree.js");
  const containers = containersOf(store.paths);
  fs.mkdirSync(containers.dir, { recursive: true });
  const layer = overlayPossibleAt(containers.dir) ? "overlay" : "copy";
  return containers.make(
    image.id,
    carried.imageName,
    name,
    layer,
    (dir) => {
      if (layer === "overlay") return;
      copyTree(store.rootfs(image.id), path.join(dir, "rootfs"), { label: "the imported files" });
    },
    carried.engine,
    carried.execmode,
  );
}
