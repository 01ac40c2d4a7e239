// One stage of a build as it goes: its image so far (run settings, layers, history), the key of its last
// step, and its root folder, made only when a step needs files (a run of cache hits makes none): a copy of
// the base's root with the cached layers since then applied, in the build's work folder.
import fs from "node:fs";
import path from "node:path";
import type { ImageRecord, LayerRecord, Store } from "../store/store.js";
import { hostPlatform } from "../registry/platform.js";
import type { HistoryEntry, CachedLayer } from "./cache.js";
import type { RunSettings } from "./image-config.js";
import type { StageVariables } from "../dockerfile/stages.js";
import { copyTreeAsync } from "../fs/copy-tree.js";
import { mountOverlayRoot } from "./overlay-root.js";
import { flattenLayers } from "../image/flatten.js";
import { applyOwners, imageOwners, layerOwners } from "./layer-owners.js";
import type { TreeSnapshot } from "./tree-diff.js";

/** Owners the build gave files, by guest path (src/builder/layer-tar.ts). */
export type OwnerTable = Map<string, { uid: number; gid: number }>;

/** Where a stage's files start from. */
export type StageBase =
  | { kind: "scratch" }
  | {
      kind: "image";
      id: string;
      label: string;
      /** Its root, being made ahead of need (prepareImageRoot), if a step before started it. */
      prepared?: Promise<string> | undefined;
    }
  | { kind: "stage"; state: StageState };

/** Where a stage's root is made and how: the store, the build's work folder, whether owners are real. */
export interface RootContext {
  store: Store;
  work: string;
  warn(message: string): void;
  /** In the build's namespace of subordinate ids: the layers' owners are given to the files. */
  realOwners: boolean;
}

/** The image a stage has made so far. */
export interface StageImage {
  architecture: string;
  os: string;
  variant?: string | undefined;
  author?: string | undefined;
  settings: RunSettings;
  layers: LayerRecord[];
  diffIds: string[];
  history: HistoryEntry[];
}

/** A stage being built. */
export class StageState {
  /** The key of the last step (the stage's cache identity so far). */
  key: string;
  /** Layers added since the root was last brought up to date (cache hits). */
  private pending: CachedLayer[] = [];
  private rootDir: string | undefined;
  /** Whether this stage set CMD itself (ENTRYPOINT clears an inherited one only). */
  cmdSetHere = false;
  /** The root's snapshot as the last step left it (src/builder/tree-diff.ts), while nothing else changed it. */
  snapshot: TreeSnapshot | undefined;

  constructor(
    readonly name: string,
    readonly base: StageBase,
    readonly image: StageImage,
    readonly vars: StageVariables,
    readonly owners: OwnerTable,
    key: string,
  ) {
    this.key = key;
  }

  /** Adds a step's layer to the image; `applied`: its files are already in the root. */
  addLayer(layer: CachedLayer, applied: boolean): void {
    this.image.layers.push({ digest: layer.digest, size: layer.size, mediaType: layer.mediaType });
    this.image.diffIds.push(layer.diffId);
    if (!applied || this.rootDir === undefined) this.pending.push(layer);
  }

  /** Whether the root folder exists and is up to date. */
  get hasRoot(): boolean {
    return this.rootDir !== undefined && this.pending.length === 0;
  }

  /** The root folder, made or brought up to date (under the work folder, named after the stage). */
  async root(ctx: RootContext): Promise<string> {
    const { store } = ctx;
    if (this.rootDir === undefined) {
      const base = this.base;
      let dir = path.join(ctx.work, `root-${this.name}`);
      if (base.kind === "scratch") fs.mkdirSync(dir, { mode: 0o755 });
      else if (base.kind === "image")
        dir = await (base.prepared ?? prepareImageRoot(ctx, base.id, base.label, dir));
      else await copyTreeAsync(await base.state.root(ctx), dir, { label: `stage ${base.state.name}` });
      this.rootDir = dir;
    }
    if (this.pending.length > 0) {
      const layers = this.pending.map((l) => ({
        digest: l.digest,
        mediaType: l.mediaType,
        file: store.blobPath(l.digest),
        size: l.size,
        diffId: l.diffId,
      }));
      this.snapshot = undefined;
      await flattenLayers(this.rootDir, layers, { warn: ctx.warn });
      if (ctx.realOwners) applyOwners(this.rootDir, await layerOwners(layers));
      this.pending = [];
    }
    return this.rootDir;
  }

  /** Hands the root folder over (to be published as the image's rootfs); the stage has none after. */
  takeRoot(): string | undefined {
    const dir = this.hasRoot ? this.rootDir : undefined;
    if (dir !== undefined) this.rootDir = undefined;
    return dir;
  }
}

/**
 * Image `id`'s rootfs at `dir` (an overlay of it in the build's namespace, else a copy), its files given the
 * owners its layers record where they are real; the copy and the reading of the layers' owners go on at once.
 */
export async function prepareImageRoot(
  ctx: RootContext,
  id: string,
  label: string,
  dir: string,
): Promise<string> {
  const { store } = ctx;
  const record = store.readImage(id);
  // A SquashFS image is built on from its file unpacked on this node (src/run/squashfs-root.ts).
  const rootfs =
    record?.format === "squashfs"
      ? await (await import("../run/squashfs-root.js")).imageRootDir(store, record, process.env, ctx.warn)
      : store.rootfs(id);
  // In the build's namespace, an overlay of the stored rootfs; a copy where it cannot be mounted.
  const mounted = ctx.realOwners ? await mountOverlayRoot(rootfs, dir) : undefined;
  const copied =
    mounted !== undefined ? Promise.resolve() : copyTreeAsync(rootfs, dir, { label: `image ${label}` });
  if (!ctx.realOwners) {
    await copied;
    return dir;
  }
  const layers = record?.layers ?? [];
  const files = layers.map((l) => ({ file: store.blobPath(l.digest) }));
  const [, owners] = await Promise.all([
    copied,
    imageOwners(store.paths.buildCache, id, files, store.imageDir(id)),
  ]);
  applyOwners(dir, owners);
  return dir;
}

/** The image a stage starts from when it builds on a stored image. */
export function imageOf(record: ImageRecord, store: Store): StageImage {
  const blob = store.readBlob(record.configDigest);
  const config = (blob ? JSON.parse(blob.toString("utf8")) : {}) as {
    architecture?: string;
    os?: string;
    variant?: string;
    author?: string;
    config?: RunSettings | null;
    rootfs?: { diff_ids?: string[] };
    history?: HistoryEntry[];
  };
  return {
    architecture: config.architecture ?? record.platform.architecture,
    os: config.os ?? record.platform.os,
    variant: config.variant ?? record.platform.variant,
    author: config.author,
    settings: { ...(config.config ?? {}) },
    layers: record.layers.map((l) => ({ ...l })),
    diffIds: [...(record.diffIds ?? config.rootfs?.diff_ids ?? [])],
    history: [...(config.history ?? [])],
  };
}

/** A stage from scratch: no files, no settings, the host's platform. */
export function scratchImage(): StageImage {
  const { architecture, os, variant } = hostPlatform();
  return { architecture, os, variant, settings: {}, layers: [], diffIds: [], history: [] };
}

export function cloneImage(image: StageImage): StageImage {
  return JSON.parse(JSON.stringify(image)) as StageImage;
}
