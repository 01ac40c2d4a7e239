// Builds test images from tar entries or tarballs and pushes them to the test registries through the registry API.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { testEnv } from "./env.js";
import type { RegistryName } from "./env.js";
import { runProgram } from "./proc.js";
import { registryRequest } from "./registry-client.js";
import type { RegistryResponse, RegistryTarget } from "./registry-client.js";
import { writeTar } from "./tar-writer.js";
import type { TarEntry } from "./tar-writer.js";

/** How a layer blob is compressed. */
export type Compression = "gzip" | "zstd" | "none";

/** A layer ready to push. `mediaType` is the OCI one; pushImage uses Docker's where format is docker. */
export interface Layer {
  blob: Buffer;
  /** sha256 of the blob (compressed). */
  digest: string;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  size: number;
  mediaType: string;
  compression: Compression;
}

/** The OCI layer media type of each compression. */
export const OCI_LAYER_TYPES: Record<Compression, string> = {
  gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  none: "application/vnd.oci.image.layer.v1.tar",
};

/** Docker's layer types; Docker has no zstd type of its own and uses the OCI one. */
const DOCKER_LAYER_TYPES: Record<string, string> = {
  [OCI_LAYER_TYPES.gzip]: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  [OCI_LAYER_TYPES.none]: "application/vnd.docker.image.rootfs.diff.tar",
};

/** Manifest media types. */
export const MEDIA_TYPES = {
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
} as const;

/** `sha256:<hex>` of `data`. */
export function sha256(data: Buffer | string): string {
  return "sha256:" + createHash("sha256").update(data).digest("hex");
}

/** Compresses with the zstd CLI (Node 20 has no zstd). */
function zstd(args: string[], data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn("zstd", [...args, "-c", "-q"], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => reject(new Error(`cannot run zstd (Debian package zstd): ${e.message}`)));
    child.on("close", (code) =>
      code === 0
        ? resolve(Buffer.concat(out))
        : reject(new Error(`zstd ${args.join(" ")} failed: ${Buffer.concat(err).toString()}`)),
    );
    child.stdin.end(data);
  });
}

/** Compresses an uncompressed tar into a layer. */
export async function layerFromTar(tar: Buffer, compression: Compression = "gzip"): Promise<Layer> {
  const blob =
    compression === "gzip"
      ? await promisify(zlib.gzip)(tar)
      : compression === "zstd"
        ? await zstd(["-3"], tar)
        : tar;
  return {
    blob,
    digest: sha256(blob),
    diffId: sha256(tar),
    size: blob.length,
    mediaType: OCI_LAYER_TYPES[compression],
    compression,
  };
}

/** Writes `entries` as a raw tar (see tar-writer.ts) and compresses it into a layer. */
export function layerFromEntries(entries: TarEntry[], compression: Compression = "gzip"): Promise<Layer> {
  return layerFromTar(writeTar(entries), compression);
}

/** A tarball used as a layer as it is (e.g. the Alpine minirootfs .tar.gz); compression read from its magic. */
export async function layerFromTarball(file: string): Promise<Layer> {
  const blob = await fs.readFile(file);
  let compression: Compression = "none";
  let tar: Buffer = blob;
  if (blob[0] === 0x1f && blob[1] === 0x8b) {
    compression = "gzip";
    tar = await promisify(zlib.gunzip)(blob);
  } else if (blob.readUInt32LE(0) === 0xfd2fb528) {
    compression = "zstd";
    tar = await zstd(["-d"], blob);
  }
  return {
    blob,
    digest: sha256(blob),
    diffId: sha256(tar),
    size: blob.length,
    mediaType: OCI_LAYER_TYPES[compression],
    compression,
  };
}

/** A registry: one of the harness's by name, a host:port the harness started, or a full target. */
export type RegistryLike = RegistryName | string | RegistryTarget;

/** The target for a registry name or host:port (matched against the harness's registries). */
export function resolveRegistry(registry: RegistryLike): RegistryTarget {
  if (typeof registry !== "string") return registry;
  const all = testEnv().registries;
  if (registry in all) return all[registry as RegistryName];
  const known = Object.values(all).find((r) => r.host === registry);
  if (!known) throw new Error(`${registry} is none of the harness's registries; pass a RegistryTarget`);
  return known;
}

/** A repository name no other test uses: `<prefix>-<random>`. */
export function uniqueRepo(prefix = "test"): string {
  return `${prefix}-${randomBytes(5).toString("hex")}`;
}

/** `host:port/repo:tag` (or `@digest` when `ref` is a digest) for the CLI. */
export function imageRef(registry: RegistryLike, repo: string, ref: string): string {
  const host = resolveRegistry(registry).host;
  return ref.startsWith("sha256:") ? `${host}/${repo}@${ref}` : `${host}/${repo}:${ref}`;
}

function fail(what: string, res: RegistryResponse): never {
  throw new Error(`${what}: HTTP ${res.status} ${res.body.toString("utf8").slice(0, 500)}`);
}

/** Uploads one blob (skipped when the registry has it): POST an upload, then one PUT with ?digest=. */
export async function pushBlob(registry: RegistryLike, repo: string, data: Buffer): Promise<string> {
  const target = resolveRegistry(registry);
  const digest = sha256(data);
  const head = await registryRequest(target, "HEAD", `/v2/${repo}/blobs/${digest}`);
  if (head.status === 200) return digest;
  const post = await registryRequest(target, "POST", `/v2/${repo}/blobs/uploads/`);
  if (post.status !== 202 || !post.headers.location)
    fail(`starting the upload of ${digest} to ${repo}`, post);
  const url = new URL(post.headers.location, `${target.tls ? "https" : "http"}://${target.host}`);
  url.searchParams.set("digest", digest);
  const put = await registryRequest(target, "PUT", url.toString(), {
    body: data,
    headers: { "content-type": "application/octet-stream" },
  });
  if (put.status !== 201) fail(`uploading ${digest} to ${repo}`, put);
  return digest;
}

/**
 * Puts manifest bytes under `reference` (a tag or a digest); returns the digest the registry reports
 * (for schema 1 that of the payload without signatures), else that of the bytes.
 */
export async function pushRawManifest(
  registry: RegistryLike,
  repo: string,
  reference: string,
  body: Buffer | string | object,
  mediaType: string,
): Promise<{ digest: string; size: number }> {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  const res = await registryRequest(resolveRegistry(registry), "PUT", `/v2/${repo}/manifests/${reference}`, {
    body: bytes,
    headers: { "content-type": mediaType },
  });
  if (res.status !== 201) fail(`putting manifest ${repo}:${reference}`, res);
  const reported = res.headers["docker-content-digest"];
  return { digest: typeof reported === "string" ? reported : sha256(bytes), size: bytes.length };
}

/** Parts of the image config's `config` object (Docker's capitalised names). */
export interface ImageRunConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  StopSignal?: string;
  [key: string]: unknown;
}

/** Options for pushImage. */
export interface PushImageOptions {
  config?: ImageRunConfig;
  os?: string;
  /** Go's names: amd64, arm64...; defaults to this machine's. */
  architecture?: string;
  variant?: string;
  /** Manifest and config media types: docker (schema 2) or oci; default oci. */
  format?: "docker" | "oci";
  /** Overrides the target's credentials (null: push anonymously). */
  auth?: { username: string; password: string } | null;
  /** Overrides the target's scheme. */
  tls?: boolean;
  /** Top-level fields merged over the generated config JSON (to write odd configs). */
  rawConfig?: Record<string, unknown>;
  /** Manifest annotations (OCI only). */
  annotations?: Record<string, string>;
}

/** What pushImage pushed. */
export interface PushedImage {
  manifestDigest: string;
  configDigest: string;
  manifest: Buffer;
  manifestSize: number;
  manifestMediaType: string;
  config: Buffer;
  /** `host:port/repo:tag` (or `@digest` when pushed without a tag). */
  ref: string;
}

/** Go's architecture name for this machine. */
export function hostArchitecture(): string {
  const map: Record<string, string> = {
    x64: "amd64",
    ia32: "386",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
  };
  return map[process.arch] ?? process.arch;
}

/**
 * Pushes the layers, a config (with rootfs.diff_ids) and a manifest. `tag` null pushes by digest
 * only (for the entries of an index).
 */
export async function pushImage(
  registry: RegistryLike,
  repo: string,
  tag: string | null,
  layers: Layer[],
  opts: PushImageOptions = {},
): Promise<PushedImage> {
  const base = resolveRegistry(registry);
  const target: RegistryTarget = { ...base };
  if (opts.auth === null) delete target.auth;
  else if (opts.auth) target.auth = opts.auth;
  if (opts.tls !== undefined) target.tls = opts.tls;
  const format = opts.format ?? "oci";
  const created = "2023-11-14T22:13:20Z";
  const configJson = {
    created,
    architecture: opts.architecture ?? hostArchitecture(),
    ...(opts.variant ? { variant: opts.variant } : {}),
    os: opts.os ?? "linux",
    config: opts.config ?? {},
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created, created_by: `burrow test harness: layer ${i + 1}` })),
    ...opts.rawConfig,
  };
  const config = Buffer.from(JSON.stringify(configJson));
  const configDigest = sha256(config);
  await Promise.all([...layers.map((l) => pushBlob(target, repo, l.blob)), pushBlob(target, repo, config)]);
  const layerType = (l: Layer): string =>
    format === "docker" ? (DOCKER_LAYER_TYPES[l.mediaType] ?? l.mediaType) : l.mediaType;
  const manifestMediaType = format === "docker" ? MEDIA_TYPES.dockerManifest : MEDIA_TYPES.ociManifest;
  const manifestJson = {
    schemaVersion: 2,
    mediaType: manifestMediaType,
    config: {
      mediaType: format === "docker" ? MEDIA_TYPES.dockerConfig : MEDIA_TYPES.ociConfig,
      size: config.length,
      digest: configDigest,
    },
    layers: layers.map((l) => ({ mediaType: layerType(l), size: l.size, digest: l.digest })),
    ...(opts.annotations && format === "oci" ? { annotations: opts.annotations } : {}),
  };
  const manifest = Buffer.from(JSON.stringify(manifestJson, null, 2));
  const manifestDigest = sha256(manifest);
  await pushRawManifest(target, repo, tag ?? manifestDigest, manifest, manifestMediaType);
  return {
    manifestDigest,
    configDigest,
    manifest,
    manifestSize: manifest.length,
    manifestMediaType,
    config,
    ref: imageRef(target, repo, tag ?? manifestDigest),
  };
}

/** A platform as in an index entry. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  "os.version"?: string;
}

/** One entry of an index: a manifest already in the repository and its platform. */
export interface IndexEntry {
  manifestDigest: string;
  platform: Platform;
  /** Size and media type of the manifest; looked up in the registry when not given. */
  size?: number;
  mediaType?: string;
}

/** Pushes an index (OCI) or manifest list (docker) of manifests already pushed to `repo`. */
export async function pushIndex(
  registry: RegistryLike,
  repo: string,
  tag: string,
  entries: IndexEntry[],
  format: "docker" | "oci" = "oci",
): Promise<{ manifestDigest: string; manifest: Buffer }> {
  const target = resolveRegistry(registry);
  const manifests = await Promise.all(
    entries.map(async (e) => {
      let { size, mediaType } = e;
      if (size === undefined || mediaType === undefined) {
        const head = await registryRequest(target, "HEAD", `/v2/${repo}/manifests/${e.manifestDigest}`, {
          headers: { accept: [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest].join(", ") },
        });
        if (head.status !== 200) fail(`looking up ${repo}@${e.manifestDigest}`, head);
        size ??= Number(head.headers["content-length"]);
        mediaType ??= String(head.headers["content-type"]);
      }
      return { mediaType, size, digest: e.manifestDigest, platform: e.platform };
    }),
  );
  const mediaType = format === "docker" ? MEDIA_TYPES.dockerList : MEDIA_TYPES.ociIndex;
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests }, null, 2));
  const { digest } = await pushRawManifest(target, repo, tag, manifest, mediaType);
  return { manifestDigest: digest, manifest };
}

/** Reads a manifest back: status, bytes, media type and the digest the registry reports. */
export async function getManifest(
  registry: RegistryLike,
  repo: string,
  reference: string,
  accept: string[] = Object.values(MEDIA_TYPES),
): Promise<{ status: number; body: Buffer; mediaType: string; digest: string }> {
  const res = await registryRequest(resolveRegistry(registry), "GET", `/v2/${repo}/manifests/${reference}`, {
    headers: { accept: accept.join(", ") },
  });
  return {
    status: res.status,
    body: res.body,
    mediaType: String(res.headers["content-type"] ?? ""),
    digest: String(res.headers["docker-content-digest"] ?? ""),
  };
}

/** Deletes a manifest by digest (the registries run with delete enabled). */
export async function deleteManifest(registry: RegistryLike, repo: string, digest: string): Promise<void> {
  const res = await registryRequest(resolveRegistry(registry), "DELETE", `/v2/${repo}/manifests/${digest}`);
  if (res.status !== 202) fail(`deleting ${repo}@${digest}`, res);
}

/**
 * The skopeo flags that reach `registry`: the test CA's folder or no TLS verification, and credentials.
 * `role` prefixes them for `skopeo copy` (`src` gives --src-cert-dir, --src-creds...).
 */
export function skopeoFlags(registry: RegistryLike, role: "" | "src" | "dest" = ""): string[] {
  const target = resolveRegistry(registry);
  const p = role ? `--${role}-` : "--";
  const flags = target.tls ? [`${p}cert-dir=${testEnv().certDir}`] : [`${p}tls-verify=false`];
  if (target.auth) flags.push(`${p}creds=${target.auth.username}:${target.auth.password}`);
  return flags;
}

/** `skopeo inspect [extra] docker://host/repo:ref` against a test registry; never throws on failure. */
export function skopeoInspect(
  registry: RegistryLike,
  repo: string,
  ref: string,
  extra: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = ["inspect", ...skopeoFlags(registry), ...extra, `docker://${imageRef(registry, repo, ref)}`];
  return runProgram("skopeo", args, { allowFailure: true, timeoutMs: 120_000 });
}
