// Streams one binary over HTTP(S) into a temporary file, hashing it on the way; publishes it only when the sha256 matches.
import fs from "node:fs";
import path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BurrowError, DigestMismatchError, OfflineError } from "../errors.js";
import { ProxyAgents } from "../registry/proxy.js";
import type { ProxySettings } from "../registry/proxy.js";
import {
  DEFAULT_RETRY_POLICY,
  backoffDelay,
  isRetryableError,
  isRetryableStatus,
  sleep,
} from "../registry/retry.js";
import type { RetryPolicy } from "../registry/retry.js";
import { DEFAULT_TIMEOUTS, discard, header, send } from "../registry/http.js";
import type { RawResponse } from "../registry/http.js";
import { DownloadError, describeDownloadFailure } from "./errors.js";

const MAX_REDIRECTS = 10;
/** No engine binary is anywhere near this; a server that sends more is not sending a binary. */
const MAX_BINARY_BYTES = 512 * 1024 * 1024;

/** How downloads are made: proxy, TLS trust, retries, user agent. */
export interface FetchOptions {
  proxy?: ProxySettings;
  /** Whether a host[:port] may have an unverified certificate (BURROW_INSECURE_REGISTRIES, --insecure). */
  insecure?: (host: string) => boolean;
  retry?: Partial<RetryPolicy>;
  userAgent?: string;
  debug?: (line: string) => void;
  /** No network at all (`--offline`): every GET is refused with OfflineError before anything is sent. */
  offline?: boolean;
}

/** Sends GETs for one download, following redirects and retrying what is worth retrying. */
export class Fetcher {
  private readonly retry: RetryPolicy;
  private readonly agents: ProxyAgents;

  constructor(private readonly options: FetchOptions = {}) {
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.agents = new ProxyAgents(options.proxy);
  }

  /** Closes proxy tunnels kept for reuse. */
  close(): void {
    this.agents.close();
  }

  /** GET `url`: a 2xx answer with its body unread, else a DownloadError saying what the server said. */
  async get(url: URL): Promise<RawResponse> {
    for (let tries = 1; ; tries++) {
      let res: RawResponse;
      try {
        res = await this.follow(url);
      } catch (err) {
        if (err instanceof BurrowError) throw err;
        if (!isRetryableError(err) || tries >= this.retry.tries) throw describeDownloadFailure(err, url);
        this.options.debug?.(`GET ${url.href}: ${(err as Error).message}; trying again`);
        await sleep(backoffDelay(tries, this.retry));
        continue;
      }
      if (res.status >= 200 && res.status < 300) return res;
      discard(res);
      if (isRetryableStatus(res.status) && tries < this.retry.tries) {
        const wait = backoffDelay(tries, this.retry, header(res, "retry-after"));
        this.options.debug?.(`GET ${url.href}: HTTP ${res.status}; trying again in ${wait} ms`);
        await sleep(wait);
        continue;
      }
      throw new DownloadError(
        `${res.url.href} answered HTTP ${res.status}${res.statusMessage ? ` ${res.statusMessage}` : ""}`,
        url,
      );
    }
  }

  private async follow(start: URL): Promise<RawResponse> {
    if (this.options.offline) {
      throw new OfflineError(
        `burrow is offline (--offline or BURROW_OFFLINE=1) and will not download ${start.href}; unset it to use the network`,
      );
    }
    let url = start;
    for (let hop = 0; ; hop++) {
      const insecure = this.options.insecure?.(url.host) ?? false;
      const res = await send({
        method: "GET",
        url,
        headers: { "user-agent": this.options.userAgent ?? "burrow" },
        rejectUnauthorized: !insecure,
        agent: this.agents.for(url),
        timeouts: DEFAULT_TIMEOUTS,
      });
      this.options.debug?.(`GET ${url.origin}${url.pathname} -> ${res.status}`);
      const location = header(res, "location");
      if (![301, 302, 303, 307, 308].includes(res.status) || location === undefined) return res;
      discard(res);
      if (hop >= MAX_REDIRECTS) throw new DownloadError(`too many redirects from ${start.host}`, start);
      url = new URL(location, url);
      if (url.protocol !== "https:" && url.protocol !== "http:") {
        throw new DownloadError(
          `${start.host} redirected to an unsupported address (${url.protocol})`,
          start,
        );
      }
    }
  }
}

/** What `downloadVerified` is to fetch and where to put it. */
export interface VerifiedDownload {
  url: URL;
  /** The final path (`<store>/bin/<name>`); written only when the checksum matches. */
  dest: string;
  /** Expected lower-case hex sha256. */
  sha256: string;
  /** Names the binary in messages (`runc 1.2.5`). */
  what: string;
}

/**
 * Downloads to a temporary sibling of `dest` (mode 0700 while it grows), hashing while streaming; on a
 * match sets 0755, syncs and renames it over `dest`. On a mismatch or any failure the temporary file is
 * removed and `dest` is left as it was. Network failures get a few tries (the whole download restarts).
 */
export async function downloadVerified(fetcher: Fetcher, d: VerifiedDownload, tries = 3): Promise<void> {
  fs.mkdirSync(path.dirname(d.dest), { recursive: true });
  const tmp = path.join(
    path.dirname(d.dest),
    `.${path.basename(d.dest)}.download-${randomBytes(6).toString("hex")}`,
  );
  try {
    for (let attempt = 1; ; attempt++) {
      let actual: string;
      try {
        actual = await streamOnce(fetcher, d.url, tmp);
      } catch (err) {
        if (err instanceof BurrowError || !isRetryableError(err) || attempt >= tries) {
          throw err instanceof BurrowError ? err : describeDownloadFailure(err, d.url);
        }
        continue;
      }
      if (actual !== d.sha256) {
        throw new DigestMismatchError(
          `refusing ${d.what} from ${d.url.href}: its sha256 is ${actual}, the manifest pins ${d.sha256}; nothing was installed`,
        );
      }
      fs.chmodSync(tmp, 0o755);
      fs.renameSync(tmp, d.dest);
      return;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** One GET into `tmp` (truncated first); resolves with the hex sha256 of what arrived. */
async function streamOnce(fetcher: Fetcher, url: URL, tmp: string): Promise<string> {
  const res = await fetcher.get(url);
  const hash = createHash("sha256");
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      size += chunk.length;
      if (size > MAX_BINARY_BYTES) {
        callback(new DownloadError(`${url.href} sent more than ${MAX_BINARY_BYTES} bytes`, url));
        return;
      }
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  const fd = fs.openSync(tmp, "w", 0o700);
  const out = fs.createWriteStream("", { fd });
  await pipeline(res.body, tap, out);
  const length = Number(header(res, "content-length") ?? "NaN");
  if (Number.isFinite(length) && length !== size) {
    const err = new Error(`the server ended the download after ${size} of ${length} bytes`);
    (err as NodeJS.ErrnoException).code = "ERR_STREAM_PREMATURE_CLOSE";
    throw err;
  }
  const check = fs.openSync(tmp, "r");
  try {
    fs.fsyncSync(check);
  } finally {
    fs.closeSync(check);
  }
  return hash.digest("hex");
}

/** The hex sha256 of a file, or undefined when it cannot be read. */
export async function fileSha256(file: string): Promise<string | undefined> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  } catch {
    return undefined;
  }
  return hash.digest("hex");
}
