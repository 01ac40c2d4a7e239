// A Bearer token server for the token-auth registry: issues ES256 JWTs the registry verifies with the test key.
import { createPrivateKey, randomBytes, sign, X509Certificate } from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";

/** What the token server needs. */
export interface TokenServerOptions {
  /** TLS certificate and key the server listens with (the test server certificate). */
  tlsCert: string;
  tlsKey: string;
  /** Self-signed certificate and key that sign the tokens; the registry trusts the certificate. */
  signingCert: string;
  signingKey: string;
  service: string;
  issuer: string;
  /** The only credentials granted push and pull everywhere. */
  username: string;
  password: string;
}

/** A running token server. */
export interface TokenServer {
  /** The realm URL the registry sends clients to. */
  realm: string;
  stop(): Promise<void>;
}

/** One access grant in a token. */
interface Access {
  type: string;
  name: string;
  actions: string[];
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString("base64url");

/**
 * Grants for the requested scopes: the test credentials get every action asked for; anonymous
 * clients get pull on repositories under `public/` and nothing else.
 */
export function grant(scopes: string[], authenticated: boolean): Access[] {
  const out: Access[] = [];
  for (const scope of scopes) {
    for (const one of scope.split(" ")) {
      const m = /^([a-z]+):(.+):([a-z*,]+)$/.exec(one);
      if (!m || m[1] !== "repository") continue;
      const asked = m[3]!.split(",");
      const actions = authenticated
        ? asked
        : m[2]!.startsWith("public/")
          ? asked.filter((a) => a === "pull")
          : [];
      out.push({ type: "repository", name: m[2]!, actions });
    }
  }
  return out;
}

/** Starts the token server on a free loopback port. */
export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const key = createPrivateKey(fs.readFileSync(opts.signingKey));
  const certDer = new X509Certificate(fs.readFileSync(opts.signingCert)).raw;
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "ES256", x5c: [certDer.toString("base64")] }));

  const issue = (service: string, access: Access[], subject: string): string => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: opts.issuer,
      sub: subject,
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(12).toString("hex"),
      access,
    };
    const input = `${header}.${b64url(JSON.stringify(claims))}`;
    // JWS wants ECDSA signatures as r||s, not DER.
    const sig = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
    return `${input}.${b64url(sig)}`;
  };

  const checkBasic = (header: string | undefined): "none" | "ok" | "bad" => {
    if (!header) return "none";
    const m = /^Basic\s+(.+)$/i.exec(header);
    if (!m) return "bad";
    const [user, ...rest] = Buffer.from(m[1]!, "base64").toString().split(":");
    return user === opts.username && rest.join(":") === opts.password ? "ok" : "bad";
  };

  const server = https.createServer(
    { cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) },
    (req, res) => {
      const reply = (status: number, body: object): void => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const url = new URL(req.url ?? "/", "https://localhost");
      if (url.pathname !== "/token") return reply(404, { error: "not found" });
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        let params = url.searchParams;
        let auth = checkBasic(req.headers.authorization);
        let user = auth === "ok" ? opts.username : "";
        if (req.method === "POST") {
          // OAuth2 password grant, as docker sends it.
          params = new URLSearchParams(Buffer.concat(chunks).toString());
          if (params.get("grant_type") !== "password") return reply(400, { error: "unsupported_grant_type" });
          const ok = params.get("username") === opts.username && params.get("password") === opts.password;
          auth = ok ? "ok" : "bad";
          user = ok ? opts.username : "";
        } else if (req.method !== "GET") {
          return reply(405, { error: "method not allowed" });
        }
        if (auth === "bad") {
          res.setHeader("www-authenticate", 'Basic realm="burrow-test-token"');
          return reply(401, { errors: [{ code: "UNAUTHORIZED", message: "wrong username or password" }] });
        }
        const service = params.get("service") ?? opts.service;
        const token = issue(service, grant(params.getAll("scope"), auth === "ok"), user);
        reply(200, { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() });
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `https://127.0.0.1:${port}/token`,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
