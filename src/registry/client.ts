// The registry client (distribution API v2): scheme discovery, auth, manifests, verified blob downloads, tags.
import fs from "node:fs";
import path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  AuthenticationError,
  BurrowError,
  DigestMismatchError,
  ManifestUnknownError,
  OfflineError,
  RegistryError,
  UnsupportedManifestError,
  describeThrown,
} from "../errors.js";
import { Authenticator, chooseChallenge, pullScope } from "./auth.js";
import type { Credentials } from "./credentials.js";
import { digestOf, digestProblem, parseDigest } from "./digest.js";
import type { Descriptor, ImageManifest } from "./manifest.js";
import { MANIFEST_ACCEPT, bareMediaType, isImageManifestMediaType, parseManifest } from "./manifest.js";
import type { MirrorRule } from "./mirrors.js";
import { describeNetworkError } from "./network-errors.js";
import type { Platform } from "./platform.js";
import { formatPlatform, normalizePlatform, platformScore, selectManifest } from "./platform.js";
import { ProxyAgents } from "./proxy.js";
import type { ProxySettings } from "./proxy.js";
import { Reference, registryApiHost } from "./reference.js";
import {
  DEFAULT_RETRY_POLICY,
  backoffDelay,
  isRetryableError,
  isRetryableStatus,
  retryExchange,
  sleep,
} from "./retry.js";
import type { RetryPolicy, TryCount } from "./retry.js";
import { DEFAULT_TIMEOUTS, discard, header, readResponse, send } from "./http.js";
import type { Exchange, RawResponse, Timeouts } from "./http.js";
import type { Readable } from "node:stream";
import { parseWwwAuthenticate } from "./www-authenticate.js";
import type { AuthChallenge } from "./www-authenticate.js";

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_CONFIG_BYTES = 32 * 1024 * 1024;
const MAX_SMALL_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 10;
/** A blob download hands its bytes on (hash, file, flattener) in pieces of this size. */
const BATCH_BYTES = 256 * 1024;

/** How a RegistryClient is set up; every field has a default. */
export interface RegistryClientOptions {
  /** Whether a registry (host[:port]) may use plain HTTP or an unverified certificate (never, by default). */
  insecure?: (registry: string) => boolean;
  /** The credentials for a registry, when there are any (`getCredentials` bound to the store). */
  credentials?: (registry: string) => Credentials | undefined | Promise<Credentials | undefined>;
  /** The User-Agent header. */
  userAgent?: string;
  /** HTTPS_PROXY / HTTP_PROXY / NO_PROXY. */
  proxy?: ProxySettings;
  /** Tries and waits (tests make them short). */
  retry?: Partial<RetryPolicy>;
  /** Connect and idle timeouts. */
  timeouts?: Partial<Timeouts>;
  /** Receives one line per request (method, URL, status); never headers or secrets. */
  debug?: (line: string) => void;
  /** The mirrors of a registry (src/registry/mirrors.ts): asked in order before it, or instead of it. */
  mirrors?: (registry: string) => MirrorRule | undefined;
  /** No network at all: every request is refused with OfflineError before anything is sent. */
  offline?: boolean;
  /**
   * The connect (and TLS handshake) timeout for a mirror that another place comes after (default 5 s, or
   * the connect timeout when that is shorter): a mirror behind a firewall that drops packets costs little.
   */
  mirrorConnectMs?: number;
}

/** A manifest as fetched: its digest, its media type and the exact bytes. */
export interface FetchedManifest {
  digest: string;
  mediaType: string;
  body: Buffer;
}

/** Everything a pull needs to know about an image before downloading its layers. */
export interface ResolvedImage {
  /** The digest of the multi-platform index the manifest was chosen from, if there was one. */
  indexDigest?: string;
  /** The index's bytes, if there was one. */
  indexBody?: Buffer;
  manifestDigest: string;
  manifestMediaType: string;
  manifestBody: Buffer;
  manifest: ImageManifest;
  /** The config blob's bytes, verified against its digest. */
  config: Buffer;
  configDigest: string;
  /** The platform the config declares (to warn when a single-platform image does not match the host). */
  platform: Platform | undefined;
  /** Whether `platform` suits the platform asked for (always true when chosen from an index). */
  platformMatches: boolean;
  /** Where the manifest came from: the registry itself, or `mirror URL`. */
  source: string;
}

/** Options for `downloadBlob`. */
export interface DownloadOptions {
  /** Called as data arrives, with the bytes of this blob received so far (back to 0 when a try restarts). */
  onProgress?: (bytes: number) => void;
  /**
   * Receives every chunk with its offset in the blob, before it is written, so a consumer can use the
   * data while it arrives (the download waits for the returned promise). After a restart the same
   * offsets come again: the consumer skips what it already has. The blob is only verified at the end.
   */
  onChunk?: (chunk: Buffer, offset: number) => void | Promise<void>;
  signal?: AbortSignal;
}

/** What `ping` found out. */
export interface PingResult {
  scheme: "https" | "http";
  /** Whether the registry asked for authentication (and accepted ours). */
  authenticated: boolean;
}

/** One try of a blob download: the digest of the complete file, or none when it must start over. */
interface DownloadOutcome {
  digest?: string;
  rangeOk: boolean;
}

interface Endpoint {
  scheme: "https" | "http";
  rejectUnauthorized: boolean;
  insecure: boolean;
  challenge: AuthChallenge | undefined;
}

interface RequestSpec {
  registry: string;
  /** Path and query under the registry origin, starting with /v2/. */
  path: string;
  scope: string | undefined;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** Shared by every try of one logical operation, so the total stays bounded. */
  tries?: { count: number };
  /** Overrides the credentials lookup (login). */
  creds?: Credentials | undefined;
  /** GET unless said (push sends HEAD, POST, PUT, PATCH). */
  method?: Exchange["method"];
  /** An absolute URL to send to instead of `path` (an upload's Location); its origin must be the registry's. */
  url?: URL;
  /** Makes the body of an upload, afresh for each try. */
  body?: (() => Buffer | Readable) | undefined;
}

/**
 * One place an image can be fetched from: the registry itself, or one of its mirrors. `ref` is the image
 * as that place names it (a mirror's host as the registry, its namespace before the repository).
 */
interface Source {
  /** The host[:port] requests go to and credentials are looked up by (a mirror's own, never the registry's). */
  key: string;
  ref: Reference;
  /** For messages: the registry's name, or `mirror URL`. */
  label: string;
  mirror: boolean;
}

/** What the client knows of a mirror host it has met in this invocation. */
interface MirrorHost {
  /** The scheme the user named for it (no discovery, no fallback to the other one). */
  scheme: "https" | "http";
  /** Whether it is the last place asked for some registry (it then gets every try, as a registry does). */
  last: boolean;
}

/** Tries a mirror gets when another place comes after it: a failing mirror should not hold up a pull. */
const MIRROR_TRIES = 2;
/** The connect timeout of such a mirror, in ms (a mirror is near: on the site's network). */
const MIRROR_CONNECT_MS = 5_000;

/** A client for OCI/Docker registries; one per CLI invocation, caching endpoints and tokens for its life. */
export class RegistryClient {
  private readonly endpoints = new Map<string, Promise<Endpoint>>();
  private readonly auth: Authenticator;
  private readonly retry: RetryPolicy;
  private readonly timeouts: Timeouts;
  private readonly agents: ProxyAgents;
  /** Mirror hosts met so far, by host[:port]. */
  private readonly mirrorHosts = new Map<string, MirrorHost>();
  /** Mirrors found unreachable in this invocation, with why: not asked again while others remain. */
  private readonly down = new Map<string, string>();
  /** The place that served each repository's manifest (by `registry/repository`): its blobs are asked there first. */
  private readonly preferred = new Map<string, string>();

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.agents = new ProxyAgents(options.proxy);
    this.auth = new Authenticator({
      allowPlainHttp: (registry) => this.isInsecure(registry),
      fetchToken: async (url, headers) => {
        // A realm on an insecure host (often the registry itself) gets the same unverified TLS.
        const rejectUnauthorized = !this.isInsecure(url.host) && !this.isInsecure(url.hostname);
        const what = `a token from ${url.origin}`;
        return this.exchange(url.host, what, async (tries) => {
          const res = await this.sendWithRetry(url, headers, {
            rejectUnauthorized,
            registry: url.host,
            tries,
          });
          const body = await readLimited(res, MAX_SMALL_BYTES, () =>
            oversize(`the token service ${url.origin} sent`, "a token answer", MAX_SMALL_BYTES),
          );
          return { status: res.status, body };
        });
      },
    });
  }

  /** Closes the proxy tunnels this client keeps open for reuse (direct connections need no closing). */
  close(): void {
    this.agents.close();
  }

  /** Whether `registry` is spoken to insecurely (plain HTTP fallback, unverified TLS), as the options say. */
  isInsecure(registry: string): boolean {
    if (this.mirrorHosts.get(registry)?.scheme === "http") return true;
    return this.options.insecure?.(registry) ?? false;
  }

  /** Whether `ref`'s registry has mirrors: its blobs may then come from more than one place. */
  hasMirrors(ref: Reference): boolean {
    return (this.options.mirrors?.(ref.registry)?.mirrors.length ?? 0) > 0;
  }

  /** The host[:port] that serves the registry API of a registry or mirror host. */
  private apiHost(registry: string): string {
    return this.mirrorHosts.has(registry) ? registry : registryApiHost(registry);
  }

  /** How many tries one request to `registry` gets: fewer for a mirror that others come after. */
  private triesFor(registry: string): number {
    const mirror = this.mirrorHosts.get(registry);
    return mirror && !mirror.last ? Math.min(MIRROR_TRIES, this.retry.tries) : this.retry.tries;
  }

  /** The timeouts of requests to `registry`: a shorter connect timeout for a mirror that others come after. */
  private timeoutsFor(registry: string): Timeouts {
    const mirror = this.mirrorHosts.get(registry);
    if (!mirror || mirror.last) return this.timeouts;
    const connect = Math.min(this.timeouts.connect, this.options.mirrorConnectMs ?? MIRROR_CONNECT_MS);
    return { ...this.timeouts, connect };
  }

  /**
   * The places to fetch `ref` from, in order: its mirrors, then the registry itself unless the mirrors'
   * rule says not to. Without mirrors, the registry alone.
   */
  private sourcesFor(ref: Reference): Source[] {
    const own: Source = { key: ref.registry, ref, label: ref.registry, mirror: false };
    const rule = this.options.mirrors?.(ref.registry);
    if (!rule || rule.mirrors.length === 0) return [own];
    const mirrors = rule.mirrors.map((m, i): Source => {
      const last = !rule.fallback && i === rule.mirrors.length - 1;
      const known = this.mirrorHosts.get(m.host);
      this.mirrorHosts.set(m.host, {
        scheme: known?.scheme ?? m.scheme,
        last: (known?.last ?? false) || last,
      });
      const repository = m.namespace !== "" ? `${m.namespace}/${ref.repository}` : ref.repository;
      return {
        key: m.host,
        ref: new Reference(m.host, repository, ref.tag, ref.digest),
        label: `mirror ${m.url}`,
        mirror: true,
      };
    });
    return rule.fallback ? [...mirrors, own] : mirrors;
  }

  /** The places for one of `ref`'s blobs: the one that served its manifest first, then the others in order. */
  private blobSourcesFor(ref: Reference): Source[] {
    const all = this.sourcesFor(ref);
    const first = this.preferred.get(ref.name);
    const at = all.findIndex((s) => s.key === first);
    return at <= 0 ? all : [all[at]!, ...all.slice(0, at), ...all.slice(at + 1)];
  }

  /**
   * Runs `once` against each place in turn until one answers. A mirror that fails (down, refusing,
   * answering an error or garbage, or data that fails its digest) is told in a --debug line and the next
   * is asked; a mirror that cannot be reached is not asked again in this invocation while others remain.
   * When every place failed, one error names each and why.
   */
  private async fromSources<T>(
    ref: Reference,
    what: string,
    sources: Source[],
    once: (source: Source) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<{ value: T; source: Source }> {
    const failures: { source: Source; err: unknown }[] = [];
    for (const [i, source] of sources.entries()) {
      const next = sources[i + 1];
      const down = source.mirror ? this.down.get(source.key) : undefined;
      if (down !== undefined && next !== undefined) {
        failures.push({ source, err: new RegistryError(down) });
        continue;
      }
      try {
        return { value: await once(source), source };
      } catch (err) {
        if (signal?.aborted || err instanceof OfflineError) throw err;
        if (sources.length === 1 && !source.mirror) throw err;
        failures.push({ source, err });
        const reason = describeCause(err);
        if (source.mirror && isUnreachable(err)) this.down.set(source.key, reason);
        if (next !== undefined)
          this.options.debug?.(`${what}: ${source.label} failed (${reason}); trying ${next.label}`);
      }
    }
    throw sourcesFailed(ref, what, failures);
  }

  /**
   * Checks that `registry` answers the v2 API and that the credentials work (`burrow login`): GET /v2/, then
   * the auth the registry asks for. Throws AuthenticationError when it refuses them.
   */
  async ping(registry: string, creds?: Credentials): Promise<PingResult> {
    const ep = await this.endpoint(registry, true);
    if (!ep.challenge) return { scheme: ep.scheme, authenticated: false };
    const use = creds ?? (await this.options.credentials?.(registry));
    if (ep.challenge.scheme === "bearer") {
      // A token without scope is what `docker login` asks for: it proves the credentials, nothing more.
      this.auth.invalidate(registry, undefined);
      await this.auth.authorize(registry, ep.challenge, undefined, use);
      return { scheme: ep.scheme, authenticated: true };
    }
    const res = await this.request({ registry, path: "/v2/", scope: undefined, creds: use });
    discard(res);
    if (res.status < 200 || res.status > 299) throw this.statusError(res, registry, `GET /v2/`);
    return { scheme: ep.scheme, authenticated: true };
  }

  /**
   * Fetches a manifest or index by tag or digest. Fetched by digest, its bytes are checked against it; the
   * digest returned is always computed from the bytes (sha256, or the algorithm of the digest asked for).
   */
  async getManifest(ref: Reference, tagOrDigest: string = ref.manifestRef): Promise<FetchedManifest> {
    const what = `the manifest of ${ref.name}${tagOrDigest.includes(":") ? "@" : ":"}${tagOrDigest}`;
    const { value } = await this.fromSources(ref, what, this.sourcesFor(ref), (s) =>
      this.getManifestAt(s.ref, tagOrDigest),
    );
    return value;
  }

  /** getManifest from one place (`ref` as that place names the image). */
  private async getManifestAt(ref: Reference, tagOrDigest: string): Promise<FetchedManifest> {
    const byDigest = tagOrDigest.includes(":");
    if (byDigest) {
      const problem = digestProblem(tagOrDigest);
      if (problem !== undefined)
        throw new ManifestUnknownError(`cannot fetch manifest "${tagOrDigest}": ${problem}`);
    }
    const what = `${ref.name}${byDigest ? "@" : ":"}${tagOrDigest}`;
    const { res, body } = await this.exchange(ref.registry, `the manifest of ${what}`, async (tries) => {
      const res = await this.request({
        registry: ref.registry,
        path: `/v2/${ref.repository}/manifests/${tagOrDigest}`,
        scope: pullScope(ref.repository),
        headers: { accept: MANIFEST_ACCEPT.join(", ") },
        tries,
      });
      if (res.status === 404) {
        discard(res);
        throw new ManifestUnknownError(
          `${what} not found: ${ref.registry} has no ${byDigest ? "manifest with that digest" : `tag "${tagOrDigest}"`} ` +
            `in repository ${ref.repository} (or no such repository)`,
        );
      }
      if (res.status !== 200) throw this.statusError(res, ref.registry, `the manifest of ${what}`);
      const body = await readLimited(res, MAX_MANIFEST_BYTES, (size) =>
        oversize(`${ref.registry} sent`, `the manifest of ${what}`, MAX_MANIFEST_BYTES, size),
      );
      return { res, body };
    });
    const algorithm = byDigest ? parseDigest(tagOrDigest).algorithm : "sha256";
    const digest = digestOf(body, algorithm);
    if (byDigest && digest !== tagOrDigest) {
      throw new DigestMismatchError(
        `the manifest ${tagOrDigest} from ${ref.name} does not match its digest; the registry or a proxy corrupted it`,
      );
    }
    const contentType = bareMediaType(header(res, "content-type"));
    let mediaType = contentType;
    if (!isKnownManifestType(mediaType)) {
      try {
        const field = (JSON.parse(body.toString("utf8")) as { mediaType?: unknown }).mediaType;
        if (typeof field === "string") mediaType = field;
      } catch {
        // parseManifest reports it when the caller parses.
      }
    }
    return { digest, mediaType, body };
  }

  /**
   * Resolves a reference to one platform's manifest and its verified config: follows an index to the entry
   * for `platform`, refuses Docker schema 1, and fetches the config blob.
   */
  async resolveImage(
    ref: Reference,
    platform: Platform,
    /**
     * How the config blob is obtained: by default fetched; a caller with a store passes one that reuses
     * a stored copy and fetches once for concurrent pulls (src/pull.ts).
     */
    loadConfig: (descriptor: Descriptor, fetch: () => Promise<Buffer>) => Promise<Buffer> = (_d, fetch) =>
      fetch(),
  ): Promise<ResolvedImage> {
    const { value, source } = await this.fromSources(
      ref,
      `the manifest of ${ref.toString()}`,
      this.sourcesFor(ref),
      (s) => this.resolveImageAt(s, platform, loadConfig),
    );
    this.preferred.set(ref.name, source.key);
    if (source.mirror) this.options.debug?.(`${ref.toString()}: manifest from ${source.label}`);
    return value;
  }

  /** resolveImage at one place; the messages name the image as the user did. */
  private async resolveImageAt(
    source: Source,
    platform: Platform,
    loadConfig: (descriptor: Descriptor, fetch: () => Promise<Buffer>) => Promise<Buffer>,
  ): Promise<ResolvedImage> {
    const ref = source.ref;
    const first = await this.getManifestAt(ref, ref.manifestRef);
    const where = ref.toString();
    const parsed = parseManifest(first.body, first.mediaType, where);
    let indexDigest: string | undefined;
    let indexBody: Buffer | undefined;
    let fetched = first;
    let manifest: ImageManifest;
    if (parsed.kind === "index") {
      indexDigest = first.digest;
      indexBody = first.body;
      const chosen = selectManifest(parsed.index, platform, where);
      fetched = await this.getManifestAt(ref, chosen.digest);
      if (fetched.body.length !== chosen.size) {
        throw new DigestMismatchError(
          `the manifest ${chosen.digest} from ${ref.name} has ${fetched.body.length} bytes, the index says ${chosen.size}`,
        );
      }
      const inner = parseManifest(fetched.body, fetched.mediaType, `${ref.name}@${chosen.digest}`);
      if (inner.kind !== "manifest") {
        throw new UnsupportedManifestError(
          `${where}: the index entry for ${formatPlatform(platform)} is another index`,
        );
      }
      manifest = inner.manifest;
    } else {
      manifest = parsed.manifest;
    }
    if (!isImageManifestMediaType(manifest.mediaType)) {
      throw new UnsupportedManifestError(`${where} has the unsupported manifest type ${manifest.mediaType}`);
    }
    const config = await loadConfig(manifest.config, () =>
      this.fetchBlobAt(ref, manifest.config, MAX_CONFIG_BYTES),
    );
    const declared = configPlatform(config);
    return {
      ...(indexDigest !== undefined ? { indexDigest } : {}),
      ...(indexBody !== undefined ? { indexBody } : {}),
      manifestDigest: fetched.digest,
      manifestMediaType: manifest.mediaType,
      manifestBody: fetched.body,
      manifest,
      config,
      configDigest: manifest.config.digest,
      platform: declared,
      platformMatches:
        indexDigest !== undefined || !declared || platformScore(platform, declared) !== undefined,
      source: source.label,
    };
  }

  /**
   * One push request (HEAD, POST, PUT, PATCH) to `ref`'s registry, authorized for `scope` (pull and push of
   * `ref`'s repository unless said); the answer, its body unread, is the caller's (src/registry/upload.ts).
   */
  async pushRequest(
    ref: Reference,
    spec: {
      method: Exchange["method"];
      path?: string;
      url?: URL;
      headers?: Record<string, string>;
      body?: () => Buffer | Readable;
      scope?: string;
    },
  ): Promise<RawResponse> {
    return this.request({
      registry: ref.registry,
      path: spec.path ?? "",
      url: spec.url,
      method: spec.method,
      headers: spec.headers,
      body: spec.body,
      scope: spec.scope ?? `repository:${ref.repository}:pull,push`,
      tries: { count: 0 },
    });
  }

  /** Runs one step of a push as an exchange: tried again whole when the connection drops, told in one line. */
  async pushExchange<T>(registry: string, what: string, once: () => Promise<T>): Promise<T> {
    return this.exchange(registry, what, once);
  }

  /** The error for an answer a push did not expect: refused access, rate limits, or the status itself. */
  pushStatusError(res: RawResponse, registry: string, what: string): BurrowError {
    return this.statusError(res, registry, what);
  }

  /**
   * Fetches a small blob (a config) into memory and verifies its digest and size; a connection that drops
   * on the way is tried again, as a layer's is. One larger than `limit` is refused before it is fetched.
   */
  async fetchBlob(ref: Reference, descriptor: Descriptor, limit = MAX_CONFIG_BYTES): Promise<Buffer> {
    const what = `blob ${descriptor.digest} of ${ref.name}`;
    const { value } = await this.fromSources(ref, what, this.blobSourcesFor(ref), (s) =>
      this.fetchBlobAt(s.ref, descriptor, limit),
    );
    return value;
  }

  /** fetchBlob from one place. */
  private async fetchBlobAt(ref: Reference, descriptor: Descriptor, limit: number): Promise<Buffer> {
    if (descriptor.size > limit) {
      throw new UnsupportedManifestError(
        `the config of ${ref.name} is ${descriptor.size} bytes, over the limit of ${limit} bytes for an image ` +
          `config (real ones are a few kilobytes): burrow cannot use this image; check the reference, or ask ` +
          `its publisher`,
      );
    }
    const problem = digestProblem(descriptor.digest);
    if (problem !== undefined)
      throw new DigestMismatchError(`cannot fetch blob "${descriptor.digest}" of ${ref.name}: ${problem}`);
    const body = await this.exchange(
      ref.registry,
      `blob ${descriptor.digest} of ${ref.name}`,
      async (tries) => {
        const res = await this.request({
          registry: ref.registry,
          path: `/v2/${ref.repository}/blobs/${descriptor.digest}`,
          scope: pullScope(ref.repository),
          tries,
        });
        if (res.status !== 200) throw this.blobStatusError(res, ref, descriptor);
        return readLimited(res, descriptor.size, () =>
          mismatch(descriptor, ref, `it is larger than the ${descriptor.size} bytes the manifest says`),
        );
      },
    );
    if (body.length !== descriptor.size) {
      throw mismatch(descriptor, ref, `it has ${body.length} bytes, the manifest says ${descriptor.size}`);
    }
    if (digestOf(body, parseDigest(descriptor.digest).algorithm) !== descriptor.digest) {
      throw mismatch(descriptor, ref);
    }
    return body;
  }

  /**
   * Streams a blob to `destPath`, verifying size and digest on the way; the file appears (by rename) only when
   * both match. Dropped connections, 5xx and 429 are retried with backoff, resuming with Range where the
   * registry supports it. A mismatch leaves no file and throws DigestMismatchError.
   */
  async downloadBlob(
    ref: Reference,
    descriptor: Descriptor,
    destPath: string,
    options: DownloadOptions = {},
  ): Promise<void> {
    const what = `blob ${descriptor.digest} of ${ref.name}`;
    await this.fromSources(
      ref,
      what,
      this.blobSourcesFor(ref),
      (s) => this.downloadBlobAt(s.ref, descriptor, destPath, options),
      options.signal,
    );
  }

  /** downloadBlob from one place (another place starts the blob over: a mirror's bytes are not trusted). */
  private async downloadBlobAt(
    ref: Reference,
    descriptor: Descriptor,
    destPath: string,
    options: DownloadOptions,
  ): Promise<void> {
    const problem = digestProblem(descriptor.digest);
    if (problem !== undefined)
      throw new DigestMismatchError(`cannot download blob "${descriptor.digest}": ${problem}`);
    const partial = `${destPath}.partial-${randomBytes(6).toString("hex")}`;
    const tries = { count: 0 };
    let rangeOk = false;
    try {
      fs.mkdirSync(path.dirname(destPath), { recursive: true });
      for (;;) {
        const offset: number = rangeOk ? fileSize(partial) : 0;
        let outcome: DownloadOutcome;
        try {
          outcome = await this.downloadOnce(ref, descriptor, partial, offset, tries, options);
        } catch (err) {
          if (options.signal?.aborted) throw options.signal.reason ?? err;
          if (err instanceof BurrowError || !isRetryableError(err)) {
            throw err instanceof BurrowError
              ? err
              : describeNetworkError(err, ref.registry, this.isInsecure(ref.registry));
          }
          if (tries.count >= this.triesFor(ref.registry)) {
            throw new RegistryError(
              `downloading blob ${descriptor.digest} from ${ref.name} failed after ${tries.count} tries: ` +
                `${(err as Error).message}`,
              { cause: err },
            );
          }
          rangeOk = (err as { rangeOk?: boolean }).rangeOk ?? rangeOk;
          this.options.debug?.(`blob ${descriptor.digest}: ${(err as Error).message}; trying again`);
          await sleep(backoffDelay(tries.count, this.retry), options.signal);
          continue;
        }
        rangeOk = outcome.rangeOk;
        if (outcome.digest !== undefined) {
          if (outcome.digest !== descriptor.digest) throw mismatch(descriptor, ref);
          fs.renameSync(partial, destPath);
          return;
        }
        if (tries.count >= this.triesFor(ref.registry)) {
          throw new RegistryError(
            `${ref.registry} keeps answering blob ${descriptor.digest} with the wrong range`,
          );
        }
      }
    } catch (err) {
      fs.rmSync(partial, { force: true });
      throw err;
    }
  }

  /**
   * One try of a blob download from `offset`. Resolves with the digest when all bytes are there, without
   * one when the registry sent a range we did not ask for; rejects on network errors and short bodies.
   */
  private async downloadOnce(
    ref: Reference,
    descriptor: Descriptor,
    partial: string,
    offset: number,
    tries: { count: number },
    options: DownloadOptions,
  ): Promise<DownloadOutcome> {
    const { algorithm } = parseDigest(descriptor.digest);
    const res = await this.request({
      registry: ref.registry,
      path: `/v2/${ref.repository}/blobs/${descriptor.digest}`,
      scope: pullScope(ref.repository),
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      signal: options.signal,
      tries,
    });
    let start = 0;
    if (res.status === 206 && offset > 0) {
      const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(header(res, "content-range") ?? "");
      if (!m || Number(m[1]) !== offset) {
        discard(res);
        // A range we did not ask for: start over without Range.
        return { rangeOk: false };
      }
      start = offset;
    } else if (res.status !== 200) {
      throw this.blobStatusError(res, ref, descriptor);
    }
    const rangeOk = res.status === 206 || header(res, "accept-ranges")?.toLowerCase() === "bytes";
    const hash = createHash(algorithm);
    if (start > 0) {
      for await (const chunk of fs.createReadStream(partial, { end: start - 1 }))
        hash.update(chunk as Buffer);
    }
    let received = start;
    options.onProgress?.(received);
    // The network hands over TLS records of 16 KiB. They go on in batches of BATCH_BYTES: one hash update,
    // one file write and one step of the flattener's gunzip each, not sixteen (bench/pull: with 16 KiB
    // pieces the flattener waited on thread-pool round trips, and a warm pull of the Debian layer took
    // 3.0 s; 1.9 s with these). A dropped connection loses at most the batch not yet handed on: the
    // resume starts where the file ends.
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const handOn = (callback: (err?: Error | null, chunk?: Buffer) => void): void => {
      const chunk = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes);
      batch = [];
      batchBytes = 0;
      hash.update(chunk);
      if (options.onChunk) {
        Promise.resolve(options.onChunk(chunk, received - chunk.length)).then(
          () => callback(null, chunk),
          (err: unknown) => callback(err as Error),
        );
        return;
      }
      callback(null, chunk);
    };
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, callback) => {
        received += chunk.length;
        if (received > descriptor.size) {
          callback(
            mismatch(descriptor, ref, `it is larger than the ${descriptor.size} bytes the manifest says`),
          );
          return;
        }
        options.onProgress?.(received);
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes < BATCH_BYTES && received < descriptor.size) {
          callback();
          return;
        }
        handOn(callback);
      },
      flush: (callback) => {
        if (batchBytes === 0) callback();
        else handOn(callback);
      },
    });
    const out = fs.createWriteStream(partial, { flags: start > 0 ? "a" : "w", highWaterMark: BATCH_BYTES });
    try {
      await pipeline(res.body, counter, out);
    } catch (err) {
      // Let the file settle before the next try measures it for a Range resume.
      if (!out.closed) await new Promise<void>((resolve) => out.once("close", () => resolve()));
      // Keep what was written for a Range resume; the caller decides whether to try again.
      throw err instanceof BurrowError ? err : Object.assign(err as Error, { rangeOk });
    }
    if (received < descriptor.size) {
      const err = new Error(`the registry ended the blob after ${received} of ${descriptor.size} bytes`);
      (err as NodeJS.ErrnoException).code = "ERR_STREAM_PREMATURE_CLOSE";
      throw Object.assign(err, { rangeOk });
    }
    return { digest: `${algorithm}:${hash.digest("hex")}`, rangeOk };
  }

  /** Lists a repository's tags, following `Link` pagination (`pageSize` tags per page). */
  async listTags(ref: Reference, pageSize = 1000): Promise<string[]> {
    const { value } = await this.fromSources(ref, `the tags of ${ref.name}`, this.sourcesFor(ref), (s) =>
      this.listTagsAt(s.ref, pageSize),
    );
    return value;
  }

  /** listTags at one place. */
  private async listTagsAt(ref: Reference, pageSize: number): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = `/v2/${ref.repository}/tags/list?n=${pageSize}`;
    // A registry whose Link points back at a page already read would go round forever: stop there.
    const seen = new Set<string>();
    for (let page = 0; next !== undefined && !seen.has(next) && page < 10_000; page++) {
      seen.add(next);
      const pagePath = next;
      const { res, body } = await this.exchange(ref.registry, `the tags of ${ref.name}`, async (tries) => {
        const res = await this.request({
          registry: ref.registry,
          path: pagePath,
          scope: pullScope(ref.repository),
          tries,
        });
        if (res.status === 404) {
          discard(res);
          throw new ManifestUnknownError(`repository ${ref.name} not found`);
        }
        if (res.status !== 200) throw this.statusError(res, ref.registry, `the tags of ${ref.name}`);
        const body = await readLimited(res, MAX_MANIFEST_BYTES, (size) =>
          oversize(`${ref.registry} sent`, `a page of the tags of ${ref.name}`, MAX_MANIFEST_BYTES, size),
        );
        return { res, body };
      });
      let json: unknown;
      try {
        json = JSON.parse(body.toString("utf8"));
      } catch (err) {
        throw new RegistryError(`${ref.registry} sent a tag list that is not JSON`, { cause: err });
      }
      const list = (json as { tags?: unknown } | null)?.tags;
      if (Array.isArray(list)) for (const t of list) if (typeof t === "string") tags.push(t);
      next = nextLink(header(res, "link"));
    }
    return tags;
  }

  /** Finds (once per registry) the scheme that works and the auth challenge the registry sends on /v2/. */
  private endpoint(registry: string, fresh = false): Promise<Endpoint> {
    let ep = fresh ? undefined : this.endpoints.get(registry);
    if (!ep) {
      ep = this.discover(registry);
      this.endpoints.set(registry, ep);
      // A failed discovery is not remembered: the next call tries again.
      ep.catch(() => this.endpoints.delete(registry));
    }
    return ep;
  }

  private async discover(registry: string): Promise<Endpoint> {
    const insecure = this.isInsecure(registry);
    const host = this.apiHost(registry);
    const mirror = this.mirrorHosts.get(registry);
    const attempt = async (scheme: "https" | "http"): Promise<Endpoint> => {
      const rejectUnauthorized = !insecure;
      const res = await this.sendWithRetry(
        new URL(`${scheme}://${host}/v2/`),
        {},
        { rejectUnauthorized, registry },
      );
      discard(res);
      let challenge: AuthChallenge | undefined;
      if (res.status === 401) {
        challenge = chooseChallenge(parseWwwAuthenticate(header(res, "www-authenticate") ?? ""));
        if (!challenge)
          throw new AuthenticationError(`${registry} requires authentication but sent no usable challenge`);
      }
      return { scheme, rejectUnauthorized, insecure, challenge };
    };
    if (mirror !== undefined) {
      // A mirror's URL names its scheme: no discovery (an http mirror is plain HTTP because the user said so).
      try {
        return await attempt(mirror.scheme);
      } catch (err) {
        throw describeNetworkError(err, registry, insecure);
      }
    }
    try {
      return await attempt("https");
    } catch (err) {
      if (err instanceof BurrowError) throw err;
      if (!insecure) throw describeNetworkError(err, registry, false);
      this.options.debug?.(`${registry}: HTTPS failed (${(err as Error).message}); trying plain HTTP`);
      try {
        return await attempt("http");
      } catch (err2) {
        throw describeNetworkError(err2 instanceof BurrowError ? err2 : err2, registry, true);
      }
    }
  }

  /** Sends an authenticated request to a registry, answering one 401 with fresh credentials. */
  private async request(spec: RequestSpec): Promise<RawResponse> {
    const ep = await this.endpoint(spec.registry);
    const creds = spec.creds ?? (ep.challenge ? await this.options.credentials?.(spec.registry) : undefined);
    const url = spec.url ?? new URL(`${ep.scheme}://${this.apiHost(spec.registry)}${spec.path}`);
    const headers = { ...spec.headers };
    if (ep.challenge)
      headers.authorization = await this.auth.authorize(spec.registry, ep.challenge, spec.scope, creds);
    const opts = {
      rejectUnauthorized: ep.rejectUnauthorized,
      registry: spec.registry,
      signal: spec.signal,
      tries: spec.tries,
      method: spec.method,
      body: spec.body,
    };
    let res = await this.sendWithRetry(url, headers, opts);
    if (res.status !== 401) return res;
    discard(res);
    const challenge =
      chooseChallenge(parseWwwAuthenticate(header(res, "www-authenticate") ?? "")) ?? ep.challenge;
    if (!challenge) {
      throw new AuthenticationError(`${spec.registry} refused access to ${spec.path} and sent no challenge`);
    }
    // The token may have expired, or the registry wants a scope /v2/ did not announce: authorize afresh, once.
    ep.challenge = challenge;
    const credsNow = spec.creds ?? (await this.options.credentials?.(spec.registry));
    this.auth.invalidate(spec.registry, spec.scope);
    headers.authorization = await this.auth.authorize(spec.registry, challenge, spec.scope, credsNow);
    res = await this.sendWithRetry(url, headers, opts);
    if (res.status !== 401) return res;
    discard(res);
    this.auth.invalidate(spec.registry, spec.scope);
    const repo = /^\/v2\/(.+)\/(?:manifests|blobs|tags)\//.exec(spec.path)?.[1];
    throw new AuthenticationError(
      credsNow
        ? `${spec.registry} refused access${repo ? ` to ${repo}` : ""} with the credentials of "${credsNow.username}"; ` +
            `check the name, or run "burrow login ${spec.registry}" again`
        : `${spec.registry} refused access${repo ? ` to ${repo}` : ""}: the repository does not exist or needs ` +
            `credentials; run "burrow login ${spec.registry}"`,
    );
  }

  /**
   * Sends a GET, following redirects by hand (the Authorization header never goes to another origin) and
   * retrying network failures and retryable statuses with backoff.
   */
  private async sendWithRetry(
    url: URL,
    headers: Record<string, string>,
    opts: {
      rejectUnauthorized: boolean;
      registry: string;
      signal?: AbortSignal | undefined;
      tries?: { count: number } | undefined;
      method?: Exchange["method"] | undefined;
      body?: (() => Buffer | Readable) | undefined;
    },
  ): Promise<RawResponse> {
    const tries = opts.tries ?? { count: 0 };
    // An upload is not sent again here: its caller starts the blob's upload afresh (a PATCH half sent is lost).
    const upload = opts.method !== undefined && opts.method !== "GET" && opts.method !== "HEAD";
    const most = upload ? 1 : this.triesFor(opts.registry);
    for (;;) {
      tries.count++;
      let res: RawResponse;
      try {
        res = await this.sendFollowing(
          url,
          headers,
          opts.rejectUnauthorized,
          opts.signal,
          this.timeoutsFor(opts.registry),
          opts.method,
          opts.body,
        );
      } catch (err) {
        if (opts.signal?.aborted || !isRetryableError(err) || tries.count >= most) throw err;
        this.options.debug?.(`GET ${url.href}: ${(err as Error).message}; trying again`);
        await sleep(backoffDelay(tries.count, this.retry), opts.signal);
        continue;
      }
      if (!isRetryableStatus(res.status) || tries.count >= most) return res;
      discard(res);
      const wait = backoffDelay(tries.count, this.retry, header(res, "retry-after"));
      this.options.debug?.(`GET ${url.href}: HTTP ${res.status}; trying again in ${wait} ms`);
      await sleep(wait, opts.signal);
    }
  }

  private async sendFollowing(
    start: URL,
    startHeaders: Record<string, string>,
    rejectUnauthorized: boolean,
    signal: AbortSignal | undefined,
    timeouts: Timeouts,
    method: Exchange["method"] = "GET",
    body?: () => Buffer | Readable,
  ): Promise<RawResponse> {
    if (this.options.offline) {
      throw new OfflineError(
        `burrow is offline (--offline or BURROW_OFFLINE=1) and will not contact ${start.host}; unset it to use the network`,
      );
    }
    let url = start;
    const headers: Record<string, string> = {
      "user-agent": this.options.userAgent ?? "burrow",
      ...startHeaders,
    };
    for (let hop = 0; ; hop++) {
      const sameOrigin = url.origin === start.origin;
      if (!sameOrigin) delete headers.authorization;
      const res = await send({
        method,
        url,
        headers,
        body: body?.(),
        // Only the registry itself is insecure; blob storage it redirects to is verified.
        rejectUnauthorized: sameOrigin ? rejectUnauthorized : true,
        agent: this.agents.for(url),
        // The shorter connect timeout of a mirror is for the mirror, not for the storage it redirects to.
        timeouts: sameOrigin ? timeouts : this.timeouts,
        signal,
      });
      this.options.debug?.(`${method} ${redact(url)} -> ${res.status}`);
      const location = header(res, "location");
      // An upload's answer names where to go on in Location: the caller reads it; only GETs follow.
      if (method !== "GET" || ![301, 302, 303, 307, 308].includes(res.status) || location === undefined)
        return res;
      discard(res);
      if (hop >= MAX_REDIRECTS) throw new RegistryError(`too many redirects from ${start.host}`);
      url = new URL(location, url);
      if (url.protocol !== "https:" && url.protocol !== "http:") {
        throw new RegistryError(`${start.host} redirected to an unsupported address (${url.protocol})`);
      }
    }
  }

  /** Maps an unexpected status to the error that tells the user what happened. */
  private statusError(res: RawResponse, registry: string, what: string): BurrowError {
    discard(res);
    const status = res.status;
    if (status === 401)
      return new AuthenticationError(`${registry} refused access to ${what}; run "burrow login ${registry}"`);
    if (status === 403) {
      return new AuthenticationError(
        `${registry} denied access to ${what} (HTTP 403); check your permissions there`,
      );
    }
    if (status === 404) return new ManifestUnknownError(`${what} not found at ${registry}`);
    if (status === 429) {
      return new RegistryError(
        `${registry} is rate-limiting us (HTTP 429) for ${what}; wait a while` +
          (registry === "docker.io" ? `, or log in with "burrow login" to raise Docker Hub's limit` : ""),
      );
    }
    return new RegistryError(
      `${registry} answered HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ""} for ${what}`,
    );
  }

  private blobStatusError(res: RawResponse, ref: Reference, descriptor: Descriptor): BurrowError {
    if (res.status === 404) {
      discard(res);
      return new RegistryError(
        `blob ${descriptor.digest} of ${ref.name} is missing from ${ref.registry} (HTTP 404)`,
      );
    }
    return this.statusError(res, ref.registry, `blob ${descriptor.digest} of ${ref.name}`);
  }

  /**
   * One request and the reading of its answer, tried again as a whole when the connection drops at either
   * step (retryExchange); a failure is then told in one line that says how often it was tried.
   */
  private async exchange<T>(
    registry: string,
    what: string,
    once: (tries: TryCount) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const tries: TryCount = { count: 0 };
    try {
      const policy = { ...this.retry, tries: this.triesFor(registry) };
      return await retryExchange(policy, tries, () => once(tries), {
        signal,
        onRetry: (err, wait) =>
          this.options.debug?.(`${what}: ${describeCause(err)}; trying again in ${wait} ms`),
      });
    } catch (err) {
      if (err instanceof BurrowError || signal?.aborted) throw err;
      if (tries.count > 1 && isRetryableError(err)) {
        throw new RegistryError(
          `fetching ${what} from ${registry} failed after ${tries.count} tries: ${describeCause(err)}; ` +
            `check the network (or the proxy) and try again`,
          { cause: err },
        );
      }
      throw describeNetworkError(err, registry, this.isInsecure(registry));
    }
  }
}

/** Whether an error says a place could not be reached at all (no answer), rather than answered wrong. */
function isUnreachable(err: unknown): boolean {
  let cur: unknown = err;
  for (let i = 0; i < 8 && cur instanceof Error; i++) {
    const code = (cur as { code?: unknown }).code;
    if (!(cur instanceof BurrowError) && typeof code === "string" && code !== "ERR_GOT_REQUEST_ERROR") {
      return (
        /^E[A-Z]+$/.test(code) ||
        code.includes("CERT") ||
        code.startsWith("ERR_SSL") ||
        code.startsWith("ERR_TLS")
      );
    }
    cur = cur.cause;
  }
  return false;
}

/**
 * The one error for a fetch that every place failed: what was fetched, each place with why, and where the
 * mirrors are set. It is a ManifestUnknownError when every place said it has no such thing.
 */
function sourcesFailed(
  ref: Reference,
  what: string,
  failures: { source: Source; err: unknown }[],
): BurrowError {
  // The advice each failure carries for a lone registry ("check the address") is said once, at the end.
  const reason = (err: unknown): string =>
    describeCause(err).replace(/; check the address(?: or use --insecure for plain HTTP)?$/, "");
  const tried = failures.map((f) => `${f.source.label}: ${reason(f.err)}`).join("; ");
  const ownAsked = failures.some((f) => !f.source.mirror);
  const message =
    `cannot fetch ${what}: tried ${tried}` +
    (ownAsked ? "" : ` (${ref.registry} itself is not asked: its mirrors say nofallback)`) +
    `; check the addresses, the mirrors (burrow showconf) and the name`;
  const last = failures[failures.length - 1]?.err;
  return failures.every((f) => f.err instanceof ManifestUnknownError)
    ? new ManifestUnknownError(message, { cause: last })
    : new RegistryError(message, { cause: last });
}

/** Reads a whole answer; one over `limit` bytes fails with the error `tooLarge` makes (given the size announced). */
async function readLimited(
  res: RawResponse,
  limit: number,
  tooLarge: (announced: number | undefined) => BurrowError,
): Promise<Buffer> {
  const announced = Number(res.headers["content-length"] ?? "NaN");
  if (Number.isFinite(announced) && announced > limit) {
    discard(res);
    throw tooLarge(announced);
  }
  try {
    return await readResponse(res, limit);
  } catch (err) {
    if (err instanceof RangeError) throw tooLarge(undefined);
    throw err;
  }
}

/** The refusal of an answer over its size limit: what it was, how big, the limit, and what to do. */
function oversize(who: string, what: string, limit: number, size?: number): RegistryError {
  return new RegistryError(
    `${who} ${size !== undefined ? `${size} bytes` : `more than ${limit} bytes`} for ${what}, over the limit ` +
      `of ${limit} bytes (real ones are a few kilobytes): check the reference and that the address is a ` +
      `registry, not a web page or a proxy's error page`,
  );
}

/** An error's own words, for a one-line message: its message, else its code, else what it is. */
function describeCause(err: unknown): string {
  if (err instanceof Error) return err.message || String((err as { code?: unknown }).code ?? err.name);
  return describeThrown(err);
}

function isKnownManifestType(mediaType: string): boolean {
  return MANIFEST_ACCEPT.includes(mediaType);
}

function mismatch(descriptor: Descriptor, ref: Reference, why?: string): DigestMismatchError {
  return new DigestMismatchError(
    `blob ${descriptor.digest} from ${ref.name} does not match its digest${why ? ` (${why})` : ""}; ` +
      `the registry or a proxy corrupted it`,
  );
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** The URL without its query (signed blob URLs carry credentials there). */
function redact(url: URL): string {
  return `${url.origin}${url.pathname}${url.search ? "?…" : ""}`;
}

/** The `rel="next"` target of a Link header, relative to the registry. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /\brel="?next"?/i.test(m[2]!)) {
      const target = m[1]!;
      if (target.startsWith("/")) return target;
      try {
        const u = new URL(target);
        return `${u.pathname}${u.search}`;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The os/architecture/variant an image config declares. */
function configPlatform(config: Buffer): Platform | undefined {
  try {
    const c = JSON.parse(config.toString("utf8")) as {
      os?: unknown;
      architecture?: unknown;
      variant?: unknown;
    };
    if (typeof c.os !== "string" || typeof c.architecture !== "string") return undefined;
    return normalizePlatform(
      typeof c.variant === "string" && c.variant.length > 0
        ? { os: c.os, architecture: c.architecture, variant: c.variant }
        : { os: c.os, architecture: c.architecture },
    );
  } catch {
    throw new UnsupportedManifestError("the image config is not JSON");
  }
}
