// Docker Hub's search API: the v1 endpoint (`GET /v1/search?q=TERM&n=N`, served by index.docker.io and by
// mirrors that copy it) and hub.docker.com's v2 one (`/v2/search/repositories/?query=TERM&page_size=N`).
import type { Agent as HttpAgent } from "node:http";
import type { Agent as HttpsAgent } from "node:https";
import { BurrowError, InvalidArgumentError, RegistryError } from "../errors.js";
import { describeNetworkError } from "../registry/network-errors.js";
import { HttpTunnelAgent, HttpsTunnelAgent, proxyFor } from "../registry/proxy.js";
import type { ProxySettings } from "../registry/proxy.js";
import {
  DEFAULT_RETRY_POLICY,
  backoffDelay,
  isRetryableError,
  isRetryableStatus,
  retryExchange,
  sleep,
} from "../registry/retry.js";
import type { RetryPolicy, TryCount } from "../registry/retry.js";
import { DEFAULT_TIMEOUTS, discard, header, readResponse, send } from "../registry/http.js";
import type { RawResponse } from "../registry/http.js";

/** Where `burrow search TERM` asks when neither `--index` nor `BURROW_SEARCH_URL` says otherwise. */
export const DEFAULT_SEARCH_URL = "https://index.docker.io";

/** The most results one search asks for (Docker Hub's own limit for `n`). */
export const MAX_SEARCH_LIMIT = 100;

/** The number of results `burrow search` asks for by default (as docker does). */
export const DEFAULT_SEARCH_LIMIT = 25;

const MAX_SEARCH_BYTES = 8 * 1024 * 1024;
const MAX_REDIRECTS = 5;

/** One repository found by a search. */
export interface SearchResult {
  name: string;
  description: string;
  stars: number;
  official: boolean;
  automated: boolean;
}

/** How to reach the search service. */
export interface SearchOptions {
  /** The service's base URL (`https://index.docker.io`) or its full search endpoint. */
  baseUrl: string;
  term: string;
  limit: number;
  /** Whether an unverified certificate is accepted from the service. */
  insecure?: boolean;
  proxy?: ProxySettings;
  userAgent?: string;
  retry?: Partial<RetryPolicy>;
  /** Receives one line per request (method, URL, status). */
  debug?: (line: string) => void;
}

/**
 * The URL that searches `base` for `term`: a bare origin (or one ending in /v1) gets docker's v1 path,
 * hub.docker.com gets its v2 path, and a URL with another path is taken as the endpoint itself.
 */
export function searchEndpoint(base: string, term: string, limit: number): URL {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(base) ? base : `https://${base}`);
  } catch {
    throw new InvalidArgumentError(
      `invalid search URL "${base}": give one such as ${DEFAULT_SEARCH_URL} (--index or BURROW_SEARCH_URL)`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new InvalidArgumentError(`invalid search URL "${base}": use https:// or http://`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new InvalidArgumentError(`invalid search URL "${base}": credentials in the URL are not supported`);
  }
  const pathname = url.pathname.replace(/\/+$/, "");
  const v2 = url.hostname.toLowerCase() === "hub.docker.com" && (pathname === "" || pathname === "/v2");
  if (v2) {
    url.pathname = "/v2/search/repositories/";
    url.searchParams.set("query", term);
    url.searchParams.set("page_size", String(limit));
    return url;
  }
  if (pathname === "") url.pathname = "/v1/search";
  else if (pathname === "/v1") url.pathname = "/v1/search";
  url.searchParams.set("q", term);
  url.searchParams.set("n", String(limit));
  return url;
}

/** Reads a search answer: v1's `{results: [{name, description, star_count, ...}]}` or v2's `repo_name` form. */
export function parseSearchResults(body: Buffer | string, where: string): SearchResult[] {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
  } catch (err) {
    throw new RegistryError(`the search service at ${where} sent an answer that is not JSON`, { cause: err });
  }
  const results = (json as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) {
    throw new RegistryError(`the search service at ${where} sent an answer without a "results" list`);
  }
  const found: SearchResult[] = [];
  for (const item of results as unknown[]) {
    if (typeof item !== "object" || item === null) continue;
    const r = item as Record<string, unknown>;
    const name = typeof r.name === "string" ? r.name : typeof r.repo_name === "string" ? r.repo_name : "";
    if (name.length === 0) continue;
    const description =
      typeof r.description === "string"
        ? r.description
        : typeof r.short_description === "string"
          ? r.short_description
          : "";
    const stars = typeof r.star_count === "number" && Number.isFinite(r.star_count) ? r.star_count : 0;
    found.push({
      name,
      description,
      stars,
      official: r.is_official === true,
      automated: r.is_automated === true,
    });
  }
  return found;
}

/** Asks the search service for `term`; retries what is worth retrying and says in one line what failed. */
export async function searchHub(options: SearchOptions): Promise<SearchResult[]> {
  const start = searchEndpoint(options.baseUrl, options.term, options.limit);
  const where = start.origin;
  const retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const agents = new Map<string, { http?: HttpAgent; https?: HttpsAgent }>();
  const agentFor = (url: URL): { http?: HttpAgent; https?: HttpsAgent } | undefined => {
    const proxy = options.proxy ? proxyFor(url, options.proxy) : undefined;
    if (!proxy) return undefined;
    let a = agents.get(proxy.href);
    if (!a) {
      a = { http: new HttpTunnelAgent(proxy), https: new HttpsTunnelAgent(proxy) };
      agents.set(proxy.href, a);
    }
    return a;
  };
  // A connection that drops while the answer is read is tried again like one that drops before it.
  const tries: TryCount = { count: 0 };
  try {
    const body = await retryExchange(
      retry,
      tries,
      async () => {
        const res = await getFollowing(start, options, retry, agentFor, tries);
        if (res.status !== 200) throw statusError(res, where);
        try {
          return await readResponse(res, MAX_SEARCH_BYTES);
        } catch (err) {
          if (!(err instanceof RangeError)) throw err;
          throw new RegistryError(
            `the search service at ${where} sent more than ${MAX_SEARCH_BYTES} bytes, over the limit for a ` +
              `search answer: check --index or BURROW_SEARCH_URL`,
            { cause: err },
          );
        }
      },
      {
        onRetry: (err, wait) =>
          options.debug?.(
            `GET ${start.origin}${start.pathname}: ${(err as Error).message}; trying again in ${wait} ms`,
          ),
      },
    ).catch((err: unknown) => {
      if (err instanceof BurrowError) throw err;
      throw networkError(err, start, options.insecure === true);
    });
    return parseSearchResults(body, where).slice(0, options.limit);
  } finally {
    for (const a of agents.values()) {
      a.http?.destroy();
      a.https?.destroy();
    }
  }
}

/** GET with redirects followed (a few, http and https only) and retries with backoff. */
async function getFollowing(
  start: URL,
  options: SearchOptions,
  retry: RetryPolicy,
  agentFor: (url: URL) => { http?: HttpAgent; https?: HttpsAgent } | undefined,
  count: TryCount,
): Promise<RawResponse> {
  let url = start;
  for (let hop = 0; ;) {
    const tries = ++count.count;
    let res: RawResponse;
    try {
      res = await send({
        method: "GET",
        url,
        headers: { accept: "application/json", "user-agent": options.userAgent ?? "burrow" },
        // An unverified certificate is accepted from the service named, never from where it redirects.
        rejectUnauthorized: !(options.insecure === true && url.origin === start.origin),
        agent: agentFor(url),
        timeouts: DEFAULT_TIMEOUTS,
      });
    } catch (err) {
      if (!isRetryableError(err) || tries >= retry.tries)
        throw networkError(err, url, options.insecure === true);
      options.debug?.(`GET ${url.origin}${url.pathname}: ${(err as Error).message}; trying again`);
      await sleep(backoffDelay(tries, retry));
      continue;
    }
    options.debug?.(`GET ${url.origin}${url.pathname} -> ${res.status}`);
    const location = header(res, "location");
    if ([301, 302, 303, 307, 308].includes(res.status) && location !== undefined) {
      discard(res);
      if (++hop > MAX_REDIRECTS) throw new RegistryError(`too many redirects from ${start.host}`);
      url = new URL(location, url);
      if (url.protocol !== "https:" && url.protocol !== "http:") {
        throw new RegistryError(`${start.host} redirected the search to an unsupported address`);
      }
      continue;
    }
    if (!isRetryableStatus(res.status) || tries >= retry.tries) return res;
    discard(res);
    const wait = backoffDelay(tries, retry, header(res, "retry-after"));
    options.debug?.(`GET ${url.origin}${url.pathname}: HTTP ${res.status}; trying again in ${wait} ms`);
    await sleep(wait);
  }
}

function networkError(err: unknown, url: URL, insecure: boolean): BurrowError {
  // A plain-HTTP URL was asked for on purpose: "use --insecure for plain HTTP" would be no help.
  return describeNetworkError(err, url.host, insecure || url.protocol === "http:");
}

function statusError(res: RawResponse, where: string): BurrowError {
  discard(res);
  const hint = "check --index or BURROW_SEARCH_URL";
  if (res.status === 404) {
    return new RegistryError(`${where} has no search service (HTTP 404); ${hint}`);
  }
  if (res.status === 401 || res.status === 403) {
    return new RegistryError(`${where} refused the search (HTTP ${res.status}); ${hint}`);
  }
  if (res.status === 429) {
    return new RegistryError(`${where} is rate-limiting searches (HTTP 429); wait a while and try again`);
  }
  return new RegistryError(
    `${where} answered the search with HTTP ${res.status}${res.statusMessage ? ` ${res.statusMessage}` : ""}`,
  );
}
