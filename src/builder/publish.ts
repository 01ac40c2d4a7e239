// The end of a build: the target stage's image config and manifest written as blobs, and its root
// published as the image's rootfs (moved, not copied, when the last step left it up to date; packed into
// one SquashFS file in that format), unless the store has that image already (an unchanged rebuild makes
// the same config, so the same id).
import fs from "node:fs";
import { createHash } from "node:crypto";
import type { ImageRecord } from "../store/store.js";
import type { RootContext, StageState } from "./stage-state.js";
import { StagedImage } from "../store/staging.js";
import { isOverlayRoot, publishOverlayRoot } from "./overlay-root.js";
import { ownAll } from "./layer-owners.js";
import { summarizeTree } from "../store/summary.js";
import { MediaType } from "../registry/manifest.js";
import { digestHex } from "../store/paths.js";
import type { SquashfsOutput } from "../store/squashfs.js";

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
  ctx: RootContext,
  now: () => Date,
  squashfs?: SquashfsOutput,
): Promise<ImageRecord> {
  const { store } = ctx;
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

  const root = state.takeRoot() ?? (await state.root(ctx));
  const staged = new StagedImage(store, id);
  try {
    // An overlay root (src/builder/overlay-root.ts) is made anew from its layers; a copied one is moved.
    // A stored rootfs belongs to the user, as a pulled one does: every run (one id mapped) can use it, rmi remove it.
    if (isOverlayRoot(root)) publishOverlayRoot(root, staged.rootfs);
    else {
      if (ctx.realOwners) ownAll(root);
      fs.rmdirSync(staged.rootfs);
      fs.renameSync(root, staged.rootfs);
    }
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
      pulledAt: now().toISOString(),
      rootfs: summarizeTree(staged.rootfs),
      diffIds: image.diffIds,
    };
    // In the squashfs format (BURROW_IMAGE_FORMAT=squashfs), the tree is packed into one file, as a pull's is.
    if (squashfs !== undefined) {
      const { packStagedImage } = await import("../store/squashfs.js");
      await packStagedImage(staged, staged.rootfs, squashfs.mksquashfs, record);
    }
    const claim = await store.claimBlobs([
      configDigest,
      manifestDigest,
      ...image.layers.map((l) => l.digest),
    ]);
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
