// The OCI image layout (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`): writing its index, reading its names.
import { ArchiveError } from "../errors.js";
import { MediaType, parseManifest } from "../registry/manifest.js";
import type { Descriptor } from "../registry/manifest.js";
import { parseReference } from "../registry/reference.js";

/** The `oci-layout` file's content. */
export const OCI_LAYOUT_FILE = "oci-layout";
export const OCI_LAYOUT_BODY = JSON.stringify({ imageLayoutVersion: "1.0.0" });
/** The layout's entry point. */
export const INDEX_JSON = "index.json";

/** The annotation holding a full image name (containerd, docker ≥ 25). */
export const CONTAINERD_NAME = "io.containerd.image.name";
/** The OCI annotation naming a manifest in a layout: a tag (`3.20`) or, for some writers, a full name. */
export const OCI_REF_NAME = "org.opencontainers.image.ref.name";

/** The path of a blob inside a layout. */
export function layoutBlobPath(digest: string): string {
  const colon = digest.indexOf(":");
  return `blobs/${digest.slice(0, colon)}/${digest.slice(colon + 1)}`;
}

/** An index entry for one manifest and one name (docker ≥ 25 writes one entry per name). */
export function indexEntry(manifest: Descriptor, name: string | undefined): Descriptor {
  const entry: Descriptor = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size };
  if (name !== undefined) {
    const ref = parseReference(name);
    entry.annotations = { [CONTAINERD_NAME]: ref.toString() };
    if (ref.tag !== undefined) entry.annotations[OCI_REF_NAME] = ref.tag;
  }
  return entry;
}

/** The `index.json` of a layout holding `entries`. */
export function buildIndex(entries: Descriptor[]): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: entries }));
}

/** One entry of a layout's index: a manifest (or nested index) and the names it gives. */
export interface LayoutEntry {
  descriptor: Descriptor;
  /** Full names (`host/repo:tag`) from the annotations. */
  names: string[];
  /** A bare tag that names nothing by itself (`oci:dir:1` writes only `1`). */
  bareTag?: string | undefined;
}

/** Reads `index.json`'s entries and the names their annotations give; throws ArchiveError when malformed. */
export function parseLayoutIndex(body: Buffer): LayoutEntry[] {
  let parsed;
  try {
    parsed = parseManifest(body, MediaType.OciIndex, "the layout's index.json");
  } catch (err) {
    throw new ArchiveError(`the layout's index.json is invalid: ${(err as Error).message}`, { cause: err });
  }
  if (parsed.kind !== "index") throw new ArchiveError("the layout's index.json is not an image index");
  if (parsed.index.manifests.length === 0) throw new ArchiveError("the layout's index.json lists no image");
  return parsed.index.manifests.map((descriptor) => {
    const ann = descriptor.annotations ?? {};
    const names: string[] = [];
    let bareTag: string | undefined;
    const full = ann[CONTAINERD_NAME];
    if (full !== undefined && validName(full)) names.push(full);
    const refName = ann[OCI_REF_NAME];
    if (refName !== undefined && names.length === 0) {
      // A ref name with a repository part (`host/repo:1`, `repo:1`) is a name; a bare tag is not.
      if (/[/:@]/.test(refName) && validName(refName)) names.push(refName);
      else bareTag = refName;
    }
    return { descriptor, names, bareTag };
  });
}

function validName(name: string): boolean {
  try {
    const ref = parseReference(name);
    return ref.digest === undefined;
  } catch {
    return false;
  }
}
