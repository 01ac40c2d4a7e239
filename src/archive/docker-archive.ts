// The docker-save archive format: `manifest.json` entries and their checks.
import { ArchiveError } from "../errors.js";
import { configDiffIds as readDiffIds } from "../image/diff-ids.js";

/** One image of `manifest.json`, as `docker save` writes it. */
export interface DockerArchiveEntry {
  /** Path of the config JSON inside the archive (`<hex>.json`, or `blobs/sha256/<hex>` since docker 25). */
  Config: string;
  /** Names as docker shows them (`alpine:3.20`, `host:5000/repo:1`); may be null or absent. */
  RepoTags: string[];
  /** Paths of the layer tars, bottom first (`<id>/layer.tar`, `<hex>.tar` or `blobs/sha256/<hex>`). */
  Layers: string[];
}

/** The file name of the docker-save index. */
export const MANIFEST_JSON = "manifest.json";

/** Parses and checks `manifest.json`; throws ArchiveError saying what is wrong. */
export function parseDockerManifest(body: Buffer): DockerArchiveEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new ArchiveError("the archive's manifest.json is not JSON", { cause: err });
  }
  if (!Array.isArray(json) || json.length === 0) {
    throw new ArchiveError("the archive's manifest.json lists no image");
  }
  return json.map((raw: unknown, i) => {
    const where = `image ${i + 1} of the archive's manifest.json`;
    if (typeof raw !== "object" || raw === null) throw new ArchiveError(`${where} is not an object`);
    const e = raw as Record<string, unknown>;
    if (typeof e.Config !== "string" || e.Config === "") throw new ArchiveError(`${where} has no Config`);
    if (!Array.isArray(e.Layers) || !e.Layers.every((l): l is string => typeof l === "string" && l !== "")) {
      throw new ArchiveError(`${where} has no valid Layers list`);
    }
    const tags = e.RepoTags ?? [];
    if (!Array.isArray(tags) || !tags.every((t): t is string => typeof t === "string")) {
      throw new ArchiveError(`${where} has an invalid RepoTags list`);
    }
    return { Config: e.Config, RepoTags: tags, Layers: e.Layers };
  });
}

/** The 64-hex sha256 a member's file name carries (`<hex>.json`, `blobs/sha256/<hex>`), if any. */
export function digestInName(member: string): string | undefined {
  const base = member.slice(member.lastIndexOf("/") + 1);
  const m = /^([a-f0-9]{64})(?:\.json|\.tar)?$/.exec(base);
  if (m) return `sha256:${m[1]}`;
  return undefined;
}

/** The `diff_ids` of an image config, checked; throws ArchiveError when absent or malformed. */
export function configDiffIds(config: Buffer, where: string): string[] {
  return readDiffIds(config, (why, cause) => new ArchiveError(`the config of ${where} ${why}`, { cause }));
}
