// A small HTTP client for the registry API, used to push test images: TLS with the test CA, Basic and Bearer auth.
import http from "node:http";
import https from "node:https";

/** Where and how to reach a registry. */
export interface RegistryTarget {
  /** host:port */
  host: string;
  /** https when true, plain http otherwise. */
  tls: boolean;
  /** PEM of the CA that signed the registry's certificate (the test CA). */
  ca?: string | Buffer;
  /** Credentials for Basic auth or for the Bearer token realm. */
  auth?: { username: string; password: string };
}

/** A finished HTTP exchange. */
export interface RegistryResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Options for one request. */
export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Do not answer an auth challenge (to see what an anonymous client gets). */
  anonymous?: boolean;
}

/** One HTTP request, no auth logic, no redirects followed. */
export function rawRequest(
  target: Pick<RegistryTarget, "ca">,
  method: string,
  url: string,
  opts: { headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<RegistryResponse> {
  const u = new URL(url);
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  const headers: Record<string, string> = { ...opts.headers };
  if (body) headers["content-length"] = String(body.length);
  else if (method === "PUT" || method === "POST" || method === "PATCH") headers["content-length"] = "0";
  return new Promise((resolve, reject) => {
    const mod = u.protocol === "https:" ? https : http;
    const req = mod.request(u, { method, headers, ca: target.ca, agent: false, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url}: no answer within 60 s`)));
    req.on("error", (err) => reject(new Error(`${method} ${url}: ${err.message}`, { cause: err })));
    req.end(body);
  });
}

/** The scheme and parameters of a WWW-Authenticate header. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\S+)\s*(.*)$/.exec(header);
  const params: Record<string, string> = {};
  const re = /([a-zA-Z_]+)="([^"]*)"/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m?.[2] ?? "")) !== null) params[p[1]!.toLowerCase()] = p[2]!;
  return { scheme: (m?.[1] ?? "").toLowerCase(), params };
}

function basic(auth: { username: string; password: string }): string {
  return "Basic " + Buffer.from(`${auth.username}:${auth.password}`).toString("base64");
}

/** The Authorization header each target earned, keyed by host and token scope. */
const authCache = new Map<string, string>();

/** Fetches a Bearer token from the challenge's realm, with the target's credentials when it has some. */
async function fetchToken(target: RegistryTarget, params: Record<string, string>): Promise<string> {
  if (!params.realm) throw new Error(`${target.host}: Bearer challenge without a realm`);
  const url = new URL(params.realm);
  if (params.service) url.searchParams.set("service", params.service);
  if (params.scope) url.searchParams.set("scope", params.scope);
  const headers: Record<string, string> = {};
  if (target.auth) headers.authorization = basic(target.auth);
  const res = await rawRequest(target, "GET", url.toString(), { headers });
  if (res.status !== 200)
    throw new Error(`token realm ${url} answered ${res.status}: ${res.body.toString()}`);
  const json = JSON.parse(res.body.toString()) as { token?: string; access_token?: string };
  const token = json.token ?? json.access_token;
  if (!token) throw new Error(`token realm ${url} answered without a token`);
  return `Bearer ${token}`;
}

/**
 * A request to the registry at `target` (`pathOrUrl` is a path such as `/v2/` or a full URL from a
 * Location header). Answers a 401 challenge once: Basic with the credentials, Bearer via the realm.
 */
export async function registryRequest(
  target: RegistryTarget,
  method: string,
  pathOrUrl: string,
  opts: RequestOptions = {},
): Promise<RegistryResponse> {
  const base = `${target.tls ? "https" : "http"}://${target.host}`;
  const url = new URL(pathOrUrl, base).toString();
  const repo = /\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(new URL(url).pathname)?.[1];
  const cacheKey = `${target.host} ${target.auth?.username ?? ""} ${repo ?? ""}`;
  const headers = { ...opts.headers };
  const cached = opts.anonymous ? undefined : authCache.get(cacheKey);
  if (cached) headers.authorization = cached;
  const res = await rawRequest(target, method, url, { headers, body: opts.body });
  if (res.status !== 401 || opts.anonymous) return res;
  const header = res.headers["www-authenticate"];
  if (!header) return res;
  const challenge = parseChallenge(Array.isArray(header) ? header[0]! : header);
  let authorization: string;
  if (challenge.scheme === "basic") {
    if (!target.auth) return res;
    authorization = basic(target.auth);
  } else if (challenge.scheme === "bearer") {
    // Ask for pull and push at once so that one token serves the whole push of an image.
    const params = { ...challenge.params };
    if (repo && !params.scope?.includes(",")) params.scope = `repository:${repo}:pull,push`;
    authorization = await fetchToken(target, params);
  } else {
    return res;
  }
  if (authorization === cached) return res;
  authCache.set(cacheKey, authorization);
  return rawRequest(target, method, url, { headers: { ...opts.headers, authorization }, body: opts.body });
}
