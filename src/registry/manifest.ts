// Manifest and index media types, and the typed parsing and validation of what a registry sends.
import { UnsupportedManifestError } from "../errors.js";
import { digestProblem } from "./digest.js";

/** Media types burrow knows, by what they describe. */
export const MediaType = {
  /** Docker image manifest, schema 2. */
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  /** Docker manifest list (multi-platform). */
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  /** Docker schema 1 manifest (unsigned), refused. */
  DockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  /** Docker schema 1 manifest (signed), refused. */
  DockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  /** OCI image manifest. */
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  /** OCI image index (multi-platform). */
  OciIndex: "application/vnd.oci.image.index.v1+json",
  /** Docker image config. */
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  /** OCI image config. */
  OciConfig: "application/vnd.oci.image.config.v1+json",
  /** Docker gzip layer. */
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  /** Docker foreign (non-distributable) gzip layer. */
  DockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  /** OCI uncompressed layer. */
  OciLayerTar: "application/vnd.oci.image.layer.v1.tar",
  /** OCI gzip layer. */
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  /** OCI zstd layer. */
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
} as const;

/** The Accept header values for manifest requests, preferred first (schema 1 last, so it can be detected). */
export const MANIFEST_ACCEPT: readonly string[] = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
  MediaType.DockerSchema1Signed,
  MediaType.DockerSchema1,
];

/** An OS/architecture pair as it appears in an index entry or an image config. */
export interface DescriptorPlatform {
  os: string;
  architecture: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
}

/** A content descriptor: what a manifest says about a blob or another manifest. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: DescriptorPlatform;
}

/** An image manifest (Docker schema 2 or OCI): one config and the layers in order. */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** A multi-platform index (OCI index or Docker manifest list). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** A parsed manifest of either kind. */
export type ParsedManifest =
  { kind: "manifest"; manifest: ImageManifest } | { kind: "index"; index: ImageIndex };

/** Whether `mediaType` names a multi-platform index. */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList;
}

/** Whether `mediaType` names a single-platform image manifest burrow understands. */
export function isImageManifestMediaType(mediaType: string): boolean {
  return mediaType === MediaType.OciManifest || mediaType === MediaType.DockerManifest;
}

/** Whether `mediaType` names a Docker schema 1 manifest. */
export function isSchema1MediaType(mediaType: string): boolean {
  return mediaType === MediaType.DockerSchema1 || mediaType === MediaType.DockerSchema1Signed;
}

/** The media type without parameters (`; charset=utf-8`) and in lowercase. */
export function bareMediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (!isRecord(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return out;
}

/** Validates one descriptor; `where` names it in the error (`layer 2 of docker.io/library/alpine@sha256:...`). */
export function parseDescriptor(value: unknown, where: string): Descriptor {
  const bad = (why: string): never => {
    throw new UnsupportedManifestError(`invalid manifest: ${where}: ${why}`);
  };
  if (!isRecord(value)) return bad("not an object");
  const { mediaType, digest, size, urls, annotations, platform } = value;
  if (typeof mediaType !== "string" || mediaType.length === 0) return bad("mediaType is missing");
  if (typeof digest !== "string") return bad("digest is missing");
  const problem = digestProblem(digest);
  if (problem !== undefined) return bad(`bad digest "${digest}": ${problem}`);
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    return bad("size is not a non-negative integer");
  }
  const out: Descriptor = { mediaType, digest, size };
  if (Array.isArray(urls)) out.urls = urls.filter((u): u is string => typeof u === "string");
  const ann = stringRecord(annotations);
  if (ann) out.annotations = ann;
  if (isRecord(platform)) {
    if (typeof platform.os !== "string" || typeof platform.architecture !== "string") {
      return bad("platform lacks os or architecture");
    }
    const p: DescriptorPlatform = { os: platform.os, architecture: platform.architecture };
    if (typeof platform.variant === "string" && platform.variant.length > 0) p.variant = platform.variant;
    if (typeof platform["os.version"] === "string") p["os.version"] = platform["os.version"];
    if (Array.isArray(platform["os.features"])) {
      p["os.features"] = platform["os.features"].filter((f): f is string => typeof f === "string");
    }
    out.platform = p;
  }
  return out;
}

/**
 * Parses and validates a manifest body. The media type comes from the Content-Type header when it is a
 * known one, else from the body's `mediaType` field. Schema 1 and unknown types raise UnsupportedManifestError.
 */
export function parseManifest(body: Buffer, contentType: string | undefined, where: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new UnsupportedManifestError(`invalid manifest for ${where}: it is not JSON`, { cause: err });
  }
  if (!isRecord(json)) throw new UnsupportedManifestError(`invalid manifest for ${where}: not a JSON object`);
  const header = bareMediaType(contentType);
  const field = typeof json.mediaType === "string" ? json.mediaType : undefined;
  if (json.schemaVersion === 1 || isSchema1MediaType(header) || (field && isSchema1MediaType(field))) {
    throw new UnsupportedManifestError(
      `${where} uses the Docker schema 1 manifest format, which is deprecated and not supported; ` +
        `push the image again with a current docker, buildah or skopeo`,
    );
  }
  if (json.schemaVersion !== 2) {
    throw new UnsupportedManifestError(`invalid manifest for ${where}: schemaVersion is not 2`);
  }
  const known = (t: string | undefined): t is string =>
    t !== undefined && (isIndexMediaType(t) || isImageManifestMediaType(t));
  let mediaType = known(header) ? header : known(field) ? field : undefined;
  if (mediaType === undefined) {
    // OCI allows an absent mediaType: tell the two kinds apart by their fields.
    if (field === undefined && Array.isArray(json.manifests)) mediaType = MediaType.OciIndex;
    else if (field === undefined && isRecord(json.config) && Array.isArray(json.layers)) {
      mediaType = MediaType.OciManifest;
    } else {
      throw new UnsupportedManifestError(
        `${where} has the unsupported media type "${field ?? header}"; burrow pulls Docker schema 2 and OCI images`,
      );
    }
  }
  const annotations = stringRecord(json.annotations);
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(json.manifests)) {
      throw new UnsupportedManifestError(`invalid manifest for ${where}: the index has no manifests list`);
    }
    const manifests = json.manifests.map((d, i) =>
      parseDescriptor(d, `manifest ${i + 1} of the index of ${where}`),
    );
    const index: ImageIndex = { schemaVersion: 2, mediaType, manifests };
    if (annotations) index.annotations = annotations;
    return { kind: "index", index };
  }
  if (!Array.isArray(json.layers)) {
    throw new UnsupportedManifestError(`invalid manifest for ${where}: it has no layers list`);
  }
  const config = parseDescriptor(json.config, `the config of ${where}`);
  const layers = json.layers.map((d, i) => parseDescriptor(d, `layer ${i + 1} of ${where}`));
  const manifest: ImageManifest = { schemaVersion: 2, mediaType, config, layers };
  if (annotations) manifest.annotations = annotations;
  return { kind: "manifest", manifest };
}
