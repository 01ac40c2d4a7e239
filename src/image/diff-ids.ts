// An image's layers against its config's rootfs.diff_ids: the image id is the config digest, so a layer is
// only the image's when its uncompressed tar hashes to the diff_id the config gives it.
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { DigestMismatchError } from "../errors.js";
import type { Store, ImageRecord } from "../store/store.js";
import { writeFileAtomic } from "../store/atomic.js";
import { withLock } from "../store/lock.js";
import { decompressFile, readHead, sniffCompression, unsupportedCompression } from "./decompress.js";

const DIFF_ID = /^sha256:[a-f0-9]{64}$/;

/**
 * The `rootfs.diff_ids` of an image config; `fail` makes the error for a config that is not JSON or has no
 * valid list (each caller has its own error class: an archive, a registry's image).
 */
export function configDiffIds(config: Buffer, fail: (message: string, cause?: unknown) => Error): string[] {
  let json: unknown;
  try {
    json = JSON.parse(config.toString("utf8"));
  } catch (err) {
    throw fail("is not JSON", err);
  }
  const rootfs = (json as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs;
  const ids = rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d): d is string => typeof d === "string" && DIFF_ID.test(d))) {
    throw fail("has no valid rootfs.diff_ids");
  }
  return ids;
}

/** The refusal of a manifest whose layer count differs from its config's diff_ids, or undefined when they agree. */
export function layerCountProblem(layers: number, diffIds: string[]): string | undefined {
  if (layers === diffIds.length) return undefined;
  return `its manifest lists ${layers} layer${layers === 1 ? "" : "s"} and its config ${diffIds.length}`;
}

/** The sha256 of a layer blob's uncompressed content (its diff_id), read from the file in one stream. */
export async function blobDiffId(file: string): Promise<string> {
  const head = readHead(file, 8);
  const unsupported = unsupportedCompression(head);
  if (unsupported !== undefined) throw new Error(`it is ${unsupported}-compressed, which burrow cannot read`);
  const hash = createHash("sha256");
  for await (const chunk of decompressFile(file, sniffCompression(head))) hash.update(chunk);
  return `sha256:${hash.digest("hex")}`;
}

/**
 * What is wrong between a stored image's layer blobs and its config's diff_ids: a count that differs, a
 * blob that is missing, unreadable, or whose content is not the layer the config names. Empty when they agree.
 */
export async function storedLayerProblems(
  store: Store,
  image: ImageRecord,
  diffIds: string[],
): Promise<string[]> {
  const count = layerCountProblem(image.layers.length, diffIds);
  if (count !== undefined) return [count];
  const problems: string[] = [];
  for (const [i, layer] of image.layers.entries()) {
    const file = store.blobPath(layer.digest);
    if (!fs.existsSync(file)) {
      problems.push(`layer ${i + 1} ${layer.digest} is missing`);
      continue;
    }
    let got: string;
    try {
      got = await blobDiffId(file);
    } catch (err) {
      problems.push(`layer ${i + 1} ${layer.digest} cannot be read: ${(err as Error).message}`);
      continue;
    }
    if (got !== diffIds[i]) {
      problems.push(
        `layer ${i + 1} ${layer.digest} is not the layer the config names: its uncompressed content ` +
          `hashes to ${got}, the config's diff_id is ${diffIds[i]}`,
      );
    }
  }
  return problems;
}

/**
 * Makes sure an image already in the store was checked against its config's diff_ids before anything names
 * it again (a pull or load that finds it "up to date"). Images flattened by a burrow that did not check them
 * carry no `diffIds`: their blobs are checked now, once, and the record notes it; one whose layers are not
 * its config's is refused, since its rootfs is not the image its id names.
 */
export async function ensureDiffIdsChecked(
  store: Store,
  image: ImageRecord,
  diffIds: string[],
): Promise<ImageRecord> {
  if (sameList(image.diffIds, diffIds)) return image;
  return withLock(store.paths.locks, `image-${image.id}`, async () => {
    const current = store.readImage(image.id) ?? image;
    if (sameList(current.diffIds, diffIds)) return current;
    const problems = await storedLayerProblems(store, current, diffIds);
    if (problems.length > 0) {
      const short = current.id.slice(0, 12);
      throw new DigestMismatchError(
        `the stored image ${short} is not what its config describes (${problems[0]}): ` +
          `run 'burrow rmi ${short}' and pull it again`,
      );
    }
    const checked: ImageRecord = { ...current, diffIds };
    try {
      writeFileAtomic(
        path.join(store.imageDir(current.id), "image.json"),
        JSON.stringify(checked, null, 2) + "\n",
      );
    } catch {
      // Not noted (a read-only store): the next use checks again.
    }
    return checked;
  });
}

function sameList(a: string[] | undefined, b: string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}
