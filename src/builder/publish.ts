// The end of a build: the target stage's image config and manifest written as blobs, and its root
// published as the image's rootfs (moved, not copied, when the last step left it up to date), unless the
// store has that image already (an unchanged rebuild makes the same config, so the same id).
import fs from "node:fs";
import { createHash } from "node:crypto";
import type { ImageRecord, Store } from "../store/store.js";
import type { StageState } from "./stage-state.js";
import { StagedImage } from "../store/staging.js";
import { summarizeTree } from "../store/summary.js";
import { MediaType } from "../registry/manifest.js";
import { digestHex } from "../store/paths.js";

function digestOf(data: Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** The OCI image config of a stage's image (keys in a fixed order: the same build makes the same bytes). */
export function stageConfig(state: StageState): Buffer {
  const { image } = state;
  const last = image.history.at(-1)?.created;
  return Buffer.from(
    JSON.stringify({
      ...(last !== undefined ? { created: last } : {}),
      ...(image.author !== undefined ? { author: image.author } : {}),
      architecture: image.architecture,
      ...(image.variant !== undefined ? { variant: image.variant } : {}),
      os: image.os,
      config: image.settings,
      rootfs: { type: "layers", diff_ids: image.diffIds },
      history: image.history,
    }),
  );
}

/** Publishes the stage's image in the store; resolves to its record. */
export async function publishBuilt(
  state: StageState,
  store: Store,
  work: string,
  services: { warn(message: string): void; now(): Date },
): Promise<ImageRecord> {
  const config = stageConfig(state);
  const configDigest = digestOf(config);
  const id = digestHex(configDigest);
  const { image } = state;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configDigest, size: config.length },
      layers: image.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  const manifestDigest = digestOf(manifest);
  const existing = store.readImage(id);
  if (existing !== undefined) return existing;

  const root = state.takeRoot() ?? (await state.root(store, work, services.warn));
  const staged = new StagedImage(store, id);
  try {
    fs.rmdirSync(staged.rootfs);
    fs.renameSync(root, staged.rootfs);
    const record: ImageRecord = {
      id,
      configDigest,
      manifestDigest,
      manifestMediaType: MediaType.OciManifest,
      layers: image.layers,
      platform: {
        os: image.os,
        architecture: image.architecture,
        ...(image.variant !== undefined ? { variant: image.variant } : {}),
      },
      source: "build",
      pulledAt: services.now().toISOString(),
      rootfs: summarizeTree(staged.rootfs),
      diffIds: image.diffIds,
    };
    const claim = await store.claimBlobs([configDigest, manifestDigest, ...image.layers.map((l) => l.digest)]);
    try {
      store.putBlob(configDigest, config);
      store.putBlob(manifestDigest, manifest);
      staged.publish(record);
    } finally {
      claim.release();
    }
    return store.readImage(id) ?? record;
  } finally {
    staged.discard();
  }
}
