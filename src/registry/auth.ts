// Registry authentication: Bearer tokens from the realm (docker's token protocol) and Basic, cached per scope.
import { AuthenticationError, RegistryError } from "../errors.js";
import type { Credentials } from "./credentials.js";
import type { AuthChallenge } from "./www-authenticate.js";

/** What the token endpoint answered; the client's HTTP layer (with its retries) produces it. */
export interface TokenResponse {
  status: number;
  body: Buffer;
}

/** Sends a GET to the token realm with the given headers. */
export type TokenFetcher = (url: URL, headers: Record<string, string>) => Promise<TokenResponse>;

/** The pull scope of a repository, as the token protocol spells it. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

/** The Basic Authorization header value for credentials. */
export function basicAuthorization(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`, "utf8").toString("base64")}`;
}

/** Picks the challenge burrow answers: Bearer if offered, else Basic; undefined when neither is. */
export function chooseChallenge(challenges: AuthChallenge[]): AuthChallenge | undefined {
  return challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "basic");
}

/** The token fields of a token endpoint's JSON answer (`token`, or OAuth2's `access_token`). */
export function parseTokenResponse(body: Buffer): { token: string; expiresInS: number } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof json !== "object" || json === null) return undefined;
  const { token, access_token: accessToken, expires_in: expiresIn } = json as Record<string, unknown>;
  const value = typeof token === "string" && token.length > 0 ? token : accessToken;
  if (typeof value !== "string" || value.length === 0) return undefined;
  // The protocol's default lifetime is 60 s; below that a token is treated as 60 s too.
  const life = typeof expiresIn === "number" && Number.isFinite(expiresIn) ? Math.max(60, expiresIn) : 60;
  return { token: value, expiresInS: life };
}

/** How the authenticator reaches the outside world and which registries may use plain HTTP. */
export interface AuthenticatorOptions {
  fetchToken: TokenFetcher;
  /** Whether credentials may go to a plain-HTTP realm of this registry (only insecure registries). */
  allowPlainHttp(registry: string): boolean;
  /** The current time in ms (tests move it). */
  now?: () => number;
}

interface CachedAuth {
  header: string;
  expiresAt: number;
}

/** Turns challenges into Authorization headers and caches them per registry and scope for its own life. */
export class Authenticator {
  private readonly cache = new Map<string, CachedAuth>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(private readonly options: AuthenticatorOptions) {}

  private now(): number {
    return this.options.now ? this.options.now() : Date.now();
  }

  /** A cached, unexpired Authorization header for `registry` and `scope`. */
  cached(registry: string, scope: string | undefined): string | undefined {
    const hit = this.cache.get(`${registry} ${scope ?? ""}`);
    return hit && hit.expiresAt > this.now() ? hit.header : undefined;
  }

  /** Forgets the header for `registry` and `scope` (the registry refused it). */
  invalidate(registry: string, scope: string | undefined): void {
    this.cache.delete(`${registry} ${scope ?? ""}`);
  }

  /**
   * The Authorization header that answers `challenge` for `scope` (undefined: no scope, as `login` asks).
   * Concurrent callers for one scope share one token request.
   */
  async authorize(
    registry: string,
    challenge: AuthChallenge,
    scope: string | undefined,
    creds: Credentials | undefined,
  ): Promise<string> {
    const key = `${registry} ${scope ?? ""}`;
    const hit = this.cached(registry, scope);
    if (hit) return hit;
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const work = this.fetchHeader(registry, challenge, scope, creds).finally(() => this.pending.delete(key));
    this.pending.set(key, work);
    return work;
  }

  private async fetchHeader(
    registry: string,
    challenge: AuthChallenge,
    scope: string | undefined,
    creds: Credentials | undefined,
  ): Promise<string> {
    const key = `${registry} ${scope ?? ""}`;
    if (challenge.scheme === "basic") {
      if (!creds) {
        throw new AuthenticationError(
          `${registry} asks for a username and password; run "burrow login ${registry}" first`,
        );
      }
      const header = basicAuthorization(creds);
      this.cache.set(key, { header, expiresAt: Number.POSITIVE_INFINITY });
      return header;
    }
    if (challenge.scheme !== "bearer") {
      throw new AuthenticationError(
        `${registry} asks for "${challenge.scheme}" authentication, which burrow does not speak`,
      );
    }
    const realm = challenge.params.realm;
    let url: URL;
    try {
      url = new URL(realm ?? "");
    } catch {
      throw new RegistryError(`${registry} sent a Bearer challenge without a usable realm URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new RegistryError(`${registry} sent a token realm with the unsupported scheme ${url.protocol}`);
    }
    if (creds && url.protocol === "http:" && !this.options.allowPlainHttp(registry)) {
      throw new AuthenticationError(
        `${registry} wants credentials sent to the plain-HTTP address ${url.origin}; burrow refuses unless ` +
          `the registry is marked insecure (--insecure or BURROW_INSECURE_REGISTRIES)`,
      );
    }
    if (challenge.params.service !== undefined) url.searchParams.set("service", challenge.params.service);
    // The registry's own scope wins: it says exactly what the refused request needed.
    const wanted = challenge.params.scope ?? scope;
    if (wanted !== undefined) for (const s of wanted.split(" ")) if (s) url.searchParams.append("scope", s);
    const headers: Record<string, string> = {};
    if (creds) {
      url.searchParams.set("account", creds.username);
      headers.authorization = basicAuthorization(creds);
    }
    const started = this.now();
    const res = await this.options.fetchToken(url, headers);
    if (res.status === 401 || res.status === 403) {
      throw new AuthenticationError(
        creds
          ? `${registry} refused the credentials of "${creds.username}"; run "burrow login ${registry}" again`
          : `${registry} refused an anonymous token; run "burrow login ${registry}" first`,
      );
    }
    if (res.status < 200 || res.status > 299) {
      throw new RegistryError(`the token service of ${registry} (${url.origin}) answered HTTP ${res.status}`);
    }
    const parsed = parseTokenResponse(res.body);
    if (!parsed) throw new RegistryError(`the token service of ${registry} (${url.origin}) sent no token`);
    const header = `Bearer ${parsed.token}`;
    // Renew a little early so that a long pull does not send a token that expires on the way.
    this.cache.set(key, { header, expiresAt: started + parsed.expiresInS * 1000 - 10_000 });
    return header;
  }
}
