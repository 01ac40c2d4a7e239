// `load`: docker-save archives and OCI image layouts (tar, compressed tar or directory) into the store,
// every blob checked against its digest, layers flattened by the hostile-input-safe flattener, images
// published atomically as a pull publishes them.
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { PassThrough } from "node:stream";
import type { Readable } from "node:stream";
import type { Store, ImageRecord, LayerRecord } from "../store/store.js";
import { digestHex } from "../store/paths.js";
import { summarizeTree } from "../store/summary.js";
import { ArchiveError, BurrowError, DigestMismatchError, storeFailure } from "../errors.js";
import { errnoReason } from "../system-error.js";
import { TarFormatError, TarParser } from "../image/tar-parser.js";
import { fromByteString } from "../image/byte-path.js";
import type { TarEntry, TarHandler } from "../image/tar-parser.js";
import { UnsafePathError, normalizeEntryPath } from "../image/safe-path.js";
import {
  DecompressError,
  decompressFile,
  mediaTypeCompression,
  peekHead,
  readHead,
  sniffCompression,
  unsupportedCompression,
} from "../image/decompress.js";
import { flattenLayers } from "../image/flatten.js";
import { MediaType, isIndexMediaType, parseManifest } from "../registry/manifest.js";
import type { Descriptor, ImageManifest } from "../registry/manifest.js";
import { hostPlatform, selectManifest } from "../registry/platform.js";
import { parseReference } from "../registry/reference.js";
import { MANIFEST_JSON, configDiffIds, digestInName, parseDockerManifest } from "./docker-archive.js";
import { ensureDiffIdsChecked } from "../image/diff-ids.js";
import { INDEX_JSON, OCI_LAYOUT_FILE, layoutBlobPath, parseLayoutIndex } from "./oci-layout.js";
import { StagedImage, removeScratch, scratchPath, sweepStaging } from "../store/staging.js";

/** A member of the archive copied into the store's scratch space, with the sha256 of its bytes. */
export interface Staged {
  file: string;
  size: number;
  digest: string;
}

/** Configs, manifests and indexes larger than this are refused rather than read into memory. */
const MAX_JSON = 32 << 20;

/** Scratch space for one load, in the store's tmp/ (same filesystem, so blobs are renamed into place). */
class Staging {
  readonly dir: string;
  private n = 0;

  constructor(store: Store) {
    this.dir = scratchPath(store, "load");
    fs.mkdirSync(this.dir, { mode: 0o700 });
  }

  /** A fresh file name in the scratch space (never derived from the archive's names). */
  next(): string {
    return path.join(this.dir, `m${this.n++}`);
  }

  remove(): void {
    removeScratch(this.dir);
  }
}

/** A member path named by a manifest, checked to stay inside the archive. */
export function memberPath(name: string, where: string): string {
  if (name.startsWith("/")) {
    throw new ArchiveError(`${where} names "${name}", an absolute path outside the archive: refused`);
  }
  let rel: string;
  try {
    rel = normalizeEntryPath(name);
  } catch {
    throw new ArchiveError(`${where} names "${name}", which leads outside the archive: refused`);
  }
  if (rel === "") throw new ArchiveError(`${where} names the archive's root "${name}"`);
  return rel;
}

/** Read access to the members of an archive, whatever its form. */
export interface ArchiveView {
  /** How the archive is named in messages. */
  readonly label: string;
  has(rel: string): boolean;
  /** The member at `rel` (symlinks inside the archive followed), staged in the store's scratch space. */
  get(rel: string, what: string): Promise<Staged>;
}

/** Reads a small member (JSON) into memory. */
async function readSmall(
  view: ArchiveView,
  rel: string,
  what: string,
): Promise<{ staged: Staged; body: Buffer }> {
  const staged = await view.get(rel, what);
  if (staged.size > MAX_JSON) throw new ArchiveError(`${what} (${rel}) is ${staged.size} bytes: too large`);
  return { staged, body: fs.readFileSync(staged.file) };
}

/** The members of a tar archive, extracted into the scratch space as numbered files. */
class TarView implements ArchiveView {
  readonly files = new Map<string, Staged>();
  /** Symlinks: member path → target, as a path from the archive's root (checked to stay inside). */
  readonly links = new Map<string, string>();

  constructor(readonly label: string) {}

  /** `rel` with every symlink along it followed; throws on loops. */
  private resolve(rel: string): string {
    let parts = rel.split("/");
    let hops = 0;
    for (let i = 1; i <= parts.length; i++) {
      const target = this.links.get(parts.slice(0, i).join("/"));
      if (target === undefined) continue;
      if (++hops > 40) throw new ArchiveError(`${this.label}: too many symlinks resolving "${rel}"`);
      parts = [...(target === "" ? [] : target.split("/")), ...parts.slice(i)];
      i = 0;
    }
    return parts.join("/");
  }

  has(rel: string): boolean {
    return this.files.has(this.resolve(rel));
  }

  async get(rel: string, what: string): Promise<Staged> {
    const staged = this.files.get(this.resolve(rel));
    if (!staged) throw new ArchiveError(`${this.label} has no "${rel}" (${what}): the archive is incomplete`);
    return staged;
  }
}

/** Extracts a tar stream's regular files into the scratch space, hashing them on the way. */
class Extractor implements TarHandler {
  private fd = -1;
  private hash = createHash("sha256");
  private current: { rel: string; file: string; size: number } | undefined;

  constructor(
    private readonly view: TarView,
    private readonly staging: Staging,
  ) {}

  entry(raw: TarEntry): void {
    // Member names are matched against the names in manifest.json and index.json, which are text.
    const e = { ...raw, path: fromByteString(raw.path), linkpath: fromByteString(raw.linkpath) };
    if (e.sparse !== undefined) {
      throw new ArchiveError(
        `${this.view.label}: member "${e.path}" is stored as a sparse file, which an image archive never needs: write the archive without --sparse`,
      );
    }
    if (e.path.startsWith("/")) {
      throw new ArchiveError(`${this.view.label}: member "${e.path}" has an absolute path: refused`);
    }
    let rel: string;
    try {
      rel = normalizeEntryPath(e.path);
    } catch (err) {
      if (err instanceof UnsafePathError) {
        throw new ArchiveError(`${this.view.label}: member "${e.path}" leads outside the archive: refused`);
      }
      throw err;
    }
    if (rel === "") return;
    switch (e.type) {
      case "0":
      case "7": {
        const file = this.staging.next();
        this.fd = fs.openSync(file, "wx", 0o600);
        this.hash = createHash("sha256");
        this.current = { rel, file, size: e.size };
        this.view.links.delete(rel);
        return;
      }
      case "2": {
        if (e.linkpath.startsWith("/")) {
          throw new ArchiveError(
            `${this.view.label}: symlink "${e.path}" points at the absolute path "${e.linkpath}": refused`,
          );
        }
        const dir = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
        let target: string;
        try {
          target = normalizeEntryPath(dir === "" ? e.linkpath : `${dir}/${e.linkpath}`);
        } catch {
          throw new ArchiveError(
            `${this.view.label}: symlink "${e.path}" -> "${e.linkpath}" leads outside the archive: refused`,
          );
        }
        this.view.files.delete(rel);
        this.view.links.set(rel, target);
        return;
      }
      case "1": {
        let target: string;
        try {
          target = normalizeEntryPath(e.linkpath);
        } catch {
          throw new ArchiveError(
            `${this.view.label}: hardlink "${e.path}" -> "${e.linkpath}" leads outside the archive: refused`,
          );
        }
        const staged = this.view.files.get(target);
        if (!staged) {
          throw new ArchiveError(`${this.view.label}: hardlink "${e.path}" -> "${e.linkpath}" has no target`);
        }
        this.view.links.delete(rel);
        this.view.files.set(rel, staged);
        return;
      }
      default:
        // Directories, device nodes, fifos: nothing to keep (an archive's content is its files).
        return;
    }
  }

  data(buf: Buffer, start: number, end: number): void {
    if (this.fd < 0) return;
    this.hash.update(buf.subarray(start, end));
    while (start < end) start += fs.writeSync(this.fd, buf, start, end - start);
  }

  entryEnd(): void {
    if (this.fd < 0 || !this.current) return;
    fs.closeSync(this.fd);
    this.fd = -1;
    const { rel, file, size } = this.current;
    this.current = undefined;
    this.view.files.set(rel, { file, size, digest: `sha256:${this.hash.digest("hex")}` });
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** Reads a tar archive (plain, gzip or zstd) from `source` into the scratch space. */
async function extractTar(source: Readable, label: string, staging: Staging): Promise<TarView> {
  const view = new TarView(label);
  const extractor = new Extractor(view, staging);
  const parser = new TarParser(extractor);
  try {
    const head = await peekHead(source, 8);
    if (head.length === 0) throw new ArchiveError(`${label} is empty: not an archive`);
    const unsupported = unsupportedCompression(head);
    if (unsupported !== undefined) {
      throw new ArchiveError(
        `${label} is ${unsupported}-compressed: decompress it first (burrow reads gzip and zstd)`,
      );
    }
    for await (const chunk of decompressFile(source, sniffCompression(head))) parser.write(chunk);
    parser.end();
  } catch (err) {
    if (err instanceof BurrowError) throw err;
    if (err instanceof TarFormatError) {
      throw new ArchiveError(`${label} is not a valid tar archive: ${err.message}`, { cause: err });
    }
    if (err instanceof DecompressError) {
      throw new ArchiveError(`${label} cannot be decompressed (truncated or corrupt): ${err.message}`, {
        cause: err,
      });
    }
    // The archive itself cannot be read (its own permissions, a folder): not the store's fault.
    const sourcePath = (source as { path?: unknown }).path;
    if (sourcePath !== undefined && (err as NodeJS.ErrnoException).path === sourcePath) {
      throw new ArchiveError(`cannot read ${label}: ${errnoReason(err)}`, { cause: err });
    }
    throw storeFailure(`cannot read ${label} into the store's tmp folder`, err);
  } finally {
    extractor.close();
  }
  return view;
}

/** An image layout or extracted archive in a directory; symlinks are followed only inside it. */
class DirView implements ArchiveView {
  private readonly cache = new Map<string, Staged>();
  private readonly root: string;

  constructor(
    dir: string,
    private readonly staging: Staging,
  ) {
    this.root = fs.realpathSync(dir);
    this.label = dir;
  }

  readonly label: string;

  private real(rel: string, what: string): string {
    let real: string;
    try {
      real = fs.realpathSync(path.join(this.root, rel));
    } catch {
      throw new ArchiveError(`${this.label} has no "${rel}" (${what}): the layout is incomplete`);
    }
    if (real !== this.root && !real.startsWith(this.root + "/")) {
      throw new ArchiveError(`${this.label}: "${rel}" (${what}) leads outside the directory: refused`);
    }
    return real;
  }

  has(rel: string): boolean {
    try {
      return fs.statSync(this.real(rel, rel)).isFile();
    } catch {
      return false;
    }
  }

  async get(rel: string, what: string): Promise<Staged> {
    const real = this.real(rel, what);
    const cached = this.cache.get(real);
    if (cached) return cached;
    if (!fs.statSync(real).isFile())
      throw new ArchiveError(`${this.label}: "${rel}" (${what}) is not a file`);
    // Copied first and hashed while copying, so what is checked is what is used.
    const file = this.staging.next();
    const hash = createHash("sha256");
    let size = 0;
    const fd = fs.openSync(file, "wx", 0o600);
    try {
      for await (const chunk of fs.createReadStream(real, { highWaterMark: 1 << 20 })) {
        const buf = chunk as Buffer;
        hash.update(buf);
        size += buf.length;
        let off = 0;
        while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
      }
    } catch (err) {
      throw storeFailure(`cannot copy ${real} into the store`, err);
    } finally {
      fs.closeSync(fd);
    }
    const staged = { file, size, digest: `sha256:${hash.digest("hex")}` };
    this.cache.set(real, staged);
    return staged;
  }
}

/** One layer to load. */
interface LayerPlan {
  staged: Staged;
  /** The digest and media type the stored manifest gives it. */
  record: LayerRecord;
  /** sha256 of its uncompressed tar, from the config. */
  diffId: string;
  what: string;
}

/** One image to load, checked but not yet flattened. */
export interface ImagePlan {
  id: string;
  configDigest: string;
  config: Buffer;
  manifest: Buffer;
  manifestDigest: string;
  manifestMediaType: string;
  layers: LayerPlan[];
  /** Canonical names to give it. */
  names: string[];
  /** Tags of an OCI layout that name no repository (skopeo's `oci:DIR:TAG`). */
  bareTags: string[];
}

function sha256(data: Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** Checks a staged blob against its descriptor. */
function checkBlob(staged: Staged, d: Descriptor, what: string): void {
  if (staged.digest !== d.digest) {
    throw new DigestMismatchError(
      `${what} ${d.digest} does not match its digest (its content hashes to ${staged.digest})`,
    );
  }
  if (staged.size !== d.size) {
    throw new DigestMismatchError(
      `${what} ${d.digest} is ${staged.size} bytes, its descriptor says ${d.size}`,
    );
  }
}

/** A blob of an OCI layout, staged and checked. */
async function layoutBlob(view: ArchiveView, d: Descriptor, what: string): Promise<Staged> {
  if (!/^sha256:[a-f0-9]{64}$/.test(d.digest)) {
    throw new ArchiveError(`${what} has the digest ${d.digest}: burrow stores sha256 blobs only`);
  }
  const staged = await view.get(layoutBlobPath(d.digest), what);
  checkBlob(staged, d, what);
  return staged;
}

/** Parses a manifest or index from an archive, as an ArchiveError when malformed. */
function parseArchived(body: Buffer, mediaType: string, where: string): ReturnType<typeof parseManifest> {
  try {
    return parseManifest(body, mediaType, where);
  } catch (err) {
    throw new ArchiveError(`${where}: ${(err as Error).message}`, { cause: err });
  }
}

/** Plans the images of an OCI layout's index. */
async function planLayout(view: ArchiveView): Promise<ImagePlan[]> {
  const { body } = await readSmall(view, INDEX_JSON, "the layout's index");
  const plans = new Map<string, ImagePlan>();
  for (const [i, entry] of parseLayoutIndex(body).entries()) {
    let d = entry.descriptor;
    const where = `image ${i + 1} of ${view.label}`;
    // A nested index (a multi-platform image): the manifest for this machine.
    for (let depth = 0; isIndexMediaType(d.mediaType); depth++) {
      if (depth > 4) throw new ArchiveError(`${where}: indexes nested too deep`);
      const staged = await layoutBlob(view, d, `the index of ${where}`);
      const parsed = parseArchived(fs.readFileSync(staged.file), d.mediaType, where);
      if (parsed.kind !== "index") throw new ArchiveError(`${where}: ${d.digest} is not an index`);
      const only = parsed.index.manifests.length === 1 ? parsed.index.manifests[0]! : undefined;
      try {
        d = only ?? selectManifest(parsed.index, hostPlatform(), where);
      } catch (err) {
        throw new ArchiveError((err as Error).message, { cause: err });
      }
    }
    const manifestStaged = await layoutBlob(view, d, `the manifest of ${where}`);
    if (manifestStaged.size > MAX_JSON) throw new ArchiveError(`the manifest of ${where} is too large`);
    const manifestBody = fs.readFileSync(manifestStaged.file);
    const parsed = parseArchived(manifestBody, d.mediaType, where);
    if (parsed.kind !== "manifest") throw new ArchiveError(`${where}: ${d.digest} is not an image manifest`);
    const m: ImageManifest = parsed.manifest;
    const existing = plans.get(d.digest);
    if (existing) {
      for (const n of entry.names) if (!existing.names.includes(n)) existing.names.push(n);
      if (entry.bareTag !== undefined) existing.bareTags.push(entry.bareTag);
      continue;
    }
    const configStaged = await layoutBlob(view, m.config, `the config of ${where}`);
    if (configStaged.size > MAX_JSON) throw new ArchiveError(`the config of ${where} is too large`);
    const config = fs.readFileSync(configStaged.file);
    const diffIds = configDiffIds(config, where);
    if (diffIds.length !== m.layers.length) {
      throw new ArchiveError(
        `${where}: the config lists ${diffIds.length} layers, the manifest ${m.layers.length}`,
      );
    }
    const layers: LayerPlan[] = [];
    for (const [j, l] of m.layers.entries()) {
      const what = `layer ${j + 1} of ${where}`;
      if (mediaTypeCompression(l.mediaType) === undefined) {
        throw new ArchiveError(`${what} has the media type "${l.mediaType}", which is not a tar layer`);
      }
      const staged = await layoutBlob(view, l, what);
      layers.push({
        staged,
        record: { digest: l.digest, size: l.size, mediaType: l.mediaType },
        diffId: diffIds[j]!,
        what,
      });
    }
    plans.set(d.digest, {
      id: digestHex(m.config.digest),
      configDigest: m.config.digest,
      config,
      manifest: manifestBody,
      manifestDigest: d.digest,
      manifestMediaType: m.mediaType,
      layers,
      names: [...entry.names],
      bareTags: entry.bareTag !== undefined ? [entry.bareTag] : [],
    });
  }
  return canonicalNames([...plans.values()]);
}

/** Plans the images of a docker-save archive's manifest.json. */
async function planDocker(view: ArchiveView): Promise<ImagePlan[]> {
  const { body } = await readSmall(view, MANIFEST_JSON, "the archive's manifest.json");
  const plans: ImagePlan[] = [];
  for (const [i, entry] of parseDockerManifest(body).entries()) {
    const where = `image ${i + 1} of ${view.label}`;
    const configPath = memberPath(entry.Config, `the manifest.json entry of ${where}`);
    const { staged: configStaged, body: config } = await readSmall(
      view,
      configPath,
      `the config of ${where}`,
    );
    const named = digestInName(configPath);
    if (named !== undefined && named !== configStaged.digest) {
      throw new DigestMismatchError(
        `the config of ${where} (${entry.Config}) does not match the digest its name gives (its content hashes to ${configStaged.digest})`,
      );
    }
    const diffIds = configDiffIds(config, where);
    if (diffIds.length !== entry.Layers.length) {
      throw new ArchiveError(
        `${where}: the config lists ${diffIds.length} layers, manifest.json ${entry.Layers.length}`,
      );
    }
    const layers: LayerPlan[] = [];
    for (const [j, name] of entry.Layers.entries()) {
      const what = `layer ${j + 1} of ${where}`;
      const staged = await view.get(memberPath(name, `the manifest.json entry of ${where}`), what);
      const compression = sniffCompression(readHead(staged.file, 8));
      if (compression === "none" && staged.digest !== diffIds[j]) {
        throw new DigestMismatchError(
          `${what} (${name}) does not match its diff_id ${diffIds[j]} (its content hashes to ${staged.digest})`,
        );
      }
      const mediaType =
        compression === "gzip"
          ? MediaType.DockerLayerGzip
          : compression === "zstd"
            ? MediaType.OciLayerZstd
            : "application/vnd.docker.image.rootfs.diff.tar";
      layers.push({
        staged,
        record: { digest: staged.digest, size: staged.size, mediaType },
        diffId: diffIds[j]!,
        what,
      });
    }
    // The archive has no registry manifest: one is written for the store (verify, save and inspect read it).
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.DockerManifest,
        config: { mediaType: MediaType.DockerConfig, size: configStaged.size, digest: configStaged.digest },
        layers: layers.map((l) => l.record),
      }),
    );
    const names: string[] = [];
    for (const tag of entry.RepoTags) {
      try {
        const ref = parseReference(tag);
        if (ref.digest !== undefined) throw new Error("a digest is not a tag");
        names.push(tag);
      } catch (err) {
        throw new ArchiveError(`${where} has the invalid RepoTag "${tag}"`, { cause: err });
      }
    }
    plans.push({
      id: digestHex(configStaged.digest),
      configDigest: configStaged.digest,
      config,
      manifest,
      manifestDigest: sha256(manifest),
      manifestMediaType: MediaType.DockerManifest,
      layers,
      names,
      bareTags: [],
    });
  }
  return canonicalNames(plans);
}

/** Names as the store keeps them (`docker.io/library/alpine:3.20`), without repeats. */
function canonicalNames(plans: ImagePlan[]): ImagePlan[] {
  for (const p of plans) p.names = [...new Set(p.names.map((n) => parseReference(n).toString()))];
  return plans;
}

/** The images an archive holds: its OCI layout when it has one that reads, else its manifest.json. */
export async function planArchive(view: ArchiveView): Promise<ImagePlan[]> {
  const hasDocker = view.has(MANIFEST_JSON);
  const hasLayout = view.has(INDEX_JSON) && (view.has(OCI_LAYOUT_FILE) || !hasDocker);
  if (!hasDocker && !hasLayout) {
    throw new ArchiveError(
      `${view.label} is neither a docker-save archive (no manifest.json) nor an OCI image layout (no index.json)`,
    );
  }
  if (!hasLayout) return planDocker(view);
  let layout: ImagePlan[];
  try {
    layout = await planLayout(view);
  } catch (err) {
    // Docker's archives carry both; its manifest.json is the one docker itself reads.
    if (hasDocker) return planDocker(view);
    throw err;
  }
  if (!hasDocker) return layout;
  // Both: the layout's images, named by manifest.json's RepoTags as well.
  const docker = await planDocker(view);
  for (const d of docker) {
    const same = layout.find((p) => p.configDigest === d.configDigest);
    if (!same) layout.push(d);
    else for (const n of d.names) if (!same.names.includes(n)) same.names.push(n);
  }
  return layout;
}

/** Flattens one layer into `rootfs` while hashing its uncompressed bytes, which must match its diff_id. */
async function flattenChecked(rootfs: string, layer: LayerPlan, warn: (m: string) => void): Promise<void> {
  const head = readHead(layer.staged.file, 8);
  const unsupported = unsupportedCompression(head);
  if (unsupported !== undefined)
    throw new ArchiveError(`${layer.what} is ${unsupported}-compressed, which burrow cannot read`);
  const stream = new PassThrough({ highWaterMark: 4 << 20 });
  const hash = createHash("sha256");
  const pump = (async (): Promise<void> => {
    try {
      for await (const chunk of decompressFile(layer.staged.file, sniffCompression(head))) {
        if (stream.destroyed) return;
        hash.update(chunk);
        if (stream.write(chunk)) continue;
        await new Promise<void>((resolve) => {
          const done = (): void => {
            stream.off("drain", done);
            stream.off("close", done);
            resolve();
          };
          stream.once("drain", done);
          stream.once("close", done);
        });
      }
      stream.end();
    } catch (err) {
      stream.destroy(err as Error);
      throw err;
    }
  })();
  pump.catch(() => undefined);
  try {
    await flattenLayers(
      rootfs,
      [
        {
          digest: layer.record.digest,
          mediaType: "",
          file: layer.staged.file,
          size: layer.staged.size,
          stream,
        },
      ],
      { warn },
    );
  } catch (err) {
    stream.destroy();
    await pump.catch(() => undefined);
    throw err;
  }
  await pump;
  const got = `sha256:${hash.digest("hex")}`;
  if (got !== layer.diffId) {
    throw new DigestMismatchError(
      `${layer.what} does not match its diff_id ${layer.diffId} (its uncompressed content hashes to ${got})`,
    );
  }
}

/** Where an archive comes from. */
export interface LoadSource {
  /** A file or directory; absent for a stream. */
  path?: string | undefined;
  stream?: Readable | undefined;
  /** How it is named in messages. */
  label: string;
}

/** What was loaded. */
export interface LoadedImage {
  id: string;
  /** Canonical names given to it. */
  names: string[];
  bareTags: string[];
  status: "loaded" | "uptodate";
}

/** Loads every image of an archive; nothing is published unless every image checks out and flattens. */
export async function loadArchive(
  store: Store,
  source: LoadSource,
  warn: (message: string) => void,
): Promise<LoadedImage[]> {
  sweepStaging(store);
  const staging = new Staging(store);
  const built: { plan: ImagePlan; staged?: StagedImage; record?: ImageRecord }[] = [];
  try {
    let view: ArchiveView;
    if (source.path !== undefined && fs.statSync(source.path).isDirectory()) {
      view = new DirView(source.path, staging);
    } else {
      const stream = source.stream ?? fs.createReadStream(source.path!, { highWaterMark: 1 << 20 });
      view = await extractTar(stream, source.label, staging);
    }
    const plans = await planArchive(view);
    const sourceName = source.path !== undefined ? path.resolve(source.path) : source.label;
    // Flatten everything first, publish only when every image is complete.
    for (const plan of plans) {
      if (built.some((b) => b.plan.id === plan.id) || store.readImage(plan.id)) {
        built.push({ plan });
        continue;
      }
      const staged = new StagedImage(store, plan.id);
      built.push({ plan, staged });
      for (const layer of plan.layers) await flattenChecked(staged.rootfs, layer, warn);
      const config = JSON.parse(plan.config.toString("utf8")) as {
        os?: string;
        architecture?: string;
        variant?: string;
      };
      built[built.length - 1]!.record = {
        id: plan.id,
        configDigest: plan.configDigest,
        manifestDigest: plan.manifestDigest,
        manifestMediaType: plan.manifestMediaType,
        layers: plan.layers.map((l) => l.record),
        platform: {
          os: config.os ?? "linux",
          architecture: config.architecture ?? "unknown",
          variant: config.variant,
        },
        source: `archive ${sourceName}`,
        pulledAt: new Date().toISOString(),
        rootfs: summarizeTree(staged.rootfs),
        diffIds: plan.layers.map((l) => l.diffId),
      };
    }
    const claim = await store.claimBlobs(
      plans.flatMap((p) => [p.configDigest, p.manifestDigest, ...p.layers.map((l) => l.record.digest)]),
    );
    const out: LoadedImage[] = [];
    try {
      for (const { plan, staged, record } of built) {
        // An image already in the store keeps its own manifest and layer blobs (a pull's compressed
        // ones, say): only blobs its record names are added, so nothing is left for the collector.
        let existing = staged === undefined ? store.readImage(plan.id) : undefined;
        // One already there is named again only if its layers are its config's (checked once, if not yet).
        if (existing) {
          existing = await ensureDiffIdsChecked(
            store,
            existing,
            plan.layers.map((l) => l.diffId),
          );
        }
        const manifestDigest = existing?.manifestDigest ?? plan.manifestDigest;
        const wanted = new Set([
          manifestDigest,
          ...(existing ?? { layers: plan.layers.map((l) => l.record) }).layers.map((l) => l.digest),
        ]);
        store.putBlob(plan.configDigest, plan.config);
        if (wanted.has(plan.manifestDigest)) store.putBlob(plan.manifestDigest, plan.manifest);
        for (const l of plan.layers) {
          if (!wanted.has(l.record.digest) || store.hasBlob(l.record.digest)) continue;
          if (!fs.existsSync(l.staged.file)) continue;
          fs.chmodSync(l.staged.file, 0o644);
          fs.renameSync(l.staged.file, store.blobPath(l.record.digest));
        }
        if (staged !== undefined && record !== undefined) staged.publish(record);
        for (const n of plan.names) store.setRef(n, plan.id, manifestDigest);
        out.push({
          id: plan.id,
          names: plan.names,
          bareTags: plan.bareTags,
          status: staged !== undefined ? "loaded" : "uptodate",
        });
      }
    } finally {
      claim.release();
    }
    return out;
  } catch (err) {
    if (err instanceof BurrowError) throw err;
    throw storeFailure(`cannot load ${source.label}`, err);
  } finally {
    for (const { staged } of built) staged?.discard();
    staging.remove();
  }
}
