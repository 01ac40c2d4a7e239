// Reads an image from an OCI layout folder (as `skopeo copy docker://... oci:DIR` writes it): its
// manifest, its config and the paths of its layer blobs, and pulls one from a test registry into one.
import fsp from "node:fs/promises";
import path from "node:path";
import { imageRef, skopeoFlags } from "./image-builder.js";
import type { RegistryLike } from "./image-builder.js";
import { runProgram } from "./proc.js";

/** The run settings of an image config (the fields the build comparison reads, and a few more). */
export interface ImageRunSettings {
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, object>;
  Labels?: Record<string, string> | null;
  Volumes?: Record<string, object> | null;
  StopSignal?: string;
  [key: string]: unknown;
}

/** One history row of an image config. */
export interface HistoryRow {
  created_by?: string;
  empty_layer?: boolean;
  comment?: string;
}

/** An image config as the comparison reads it. */
export interface ImageConfig {
  config?: ImageRunSettings;
  history?: HistoryRow[];
  rootfs?: { diff_ids?: string[] };
}

/** An image read from an OCI layout. */
export interface OciImage {
  manifestDigest: string;
  config: ImageConfig;
  /** Layer blob files, bottom first. */
  layers: string[];
}

/** The path of blob `digest` in layout `dir`. */
function blobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(":");
  if (!alg || !hex || !/^[a-z0-9]+$/.test(alg) || !/^[a-f0-9]+$/.test(hex))
    throw new Error(`bad digest ${digest}`);
  return path.join(dir, "blobs", alg, hex);
}

/** Reads the only (or the first) image of the OCI layout in `dir`. */
export async function readOciImage(dir: string): Promise<OciImage> {
  const index = JSON.parse(await fsp.readFile(path.join(dir, "index.json"), "utf8")) as {
    manifests?: { digest: string }[];
  };
  const digest = index.manifests?.[0]?.digest;
  if (!digest) throw new Error(`${dir}: index.json lists no manifest`);
  const manifest = JSON.parse(await fsp.readFile(blobPath(dir, digest), "utf8")) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  const config = JSON.parse(await fsp.readFile(blobPath(dir, manifest.config.digest), "utf8")) as ImageConfig;
  return { manifestDigest: digest, config, layers: manifest.layers.map((l) => blobPath(dir, l.digest)) };
}

/** `skopeo copy docker://REGISTRY/REPO:TAG oci:DIR` (DIR must not exist); returns the image read from it. */
export async function pullToOciLayout(
  registry: RegistryLike,
  repo: string,
  tag: string,
  dir: string,
): Promise<OciImage> {
  await runProgram(
    "skopeo",
    [
      "copy",
      "-q",
      ...skopeoFlags(registry, "src"),
      `docker://${imageRef(registry, repo, tag)}`,
      `oci:${dir}`,
    ],
    { timeoutMs: 300_000 },
  );
  return readOciImage(dir);
}

/**
 * For each layer of the image (bottom first), the history row that made it: the rows that are not
 * `empty_layer`, in order. Undefined where the history is shorter than the layer list.
 */
export function layerSteps(config: ImageConfig): (HistoryRow | undefined)[] {
  const rows = (config.history ?? []).filter((h) => !h.empty_layer);
  return (config.rootfs?.diff_ids ?? []).map((_, i) => rows[i]);
}
