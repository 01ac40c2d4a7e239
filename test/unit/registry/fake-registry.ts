// A small in-process registry (distribution API v2 subset) on 127.0.0.1 for the client's fault tests.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";

/** A request the fake registry saw. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

/** How the fake registry authenticates. */
export type FakeAuth =
  | { kind: "none" }
  | { kind: "basic"; username: string; password: string }
  | { kind: "bearer"; field: "token" | "access_token"; username?: string; password?: string };

/** Lets a test answer a request itself (return true when it did). */
export type Intercept = (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => boolean;

/** The sha256 digest of some bytes. */
export function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** A running fake registry. */
export interface FakeRegistry {
  /** host:port, as a registry name. */
  host: string;
  origin: string;
  requests: SeenRequest[];
  tokenRequests: SeenRequest[];
  blobs: Map<string, Buffer>;
  manifests: Map<string, { mediaType: string; body: Buffer }>;
  intercept: Intercept | undefined;
  /** Whether blob answers advertise and honour Range. */
  ranges: boolean;
  /** Stores a blob and returns its descriptor. */
  putBlob(data: Buffer, mediaType?: string): { mediaType: string; digest: string; size: number };
  /** Stores a manifest under `repo` by digest and, when given, by tag; returns its descriptor. */
  putManifest(
    repo: string,
    body: Buffer | object,
    mediaType: string,
    tag?: string,
  ): { mediaType: string; digest: string; size: number };
  /** Pushes a one-layer image (config declaring `platform`) and returns its manifest descriptor. */
  pushImage(
    repo: string,
    tag: string | undefined,
    platform: { os: string; architecture: string; variant?: string },
    layer?: Buffer,
  ): {
    mediaType: string;
    digest: string;
    size: number;
    layer: { mediaType: string; digest: string; size: number };
  };
  close(): Promise<void>;
}

const TOKEN = "tok-0123456789";

/** Starts a fake registry on an ephemeral loopback port. */
export async function startFakeRegistry(auth: FakeAuth = { kind: "none" }): Promise<FakeRegistry> {
  const reg = {
    requests: [] as SeenRequest[],
    tokenRequests: [] as SeenRequest[],
    blobs: new Map<string, Buffer>(),
    manifests: new Map<string, { mediaType: string; body: Buffer }>(),
    intercept: undefined as Intercept | undefined,
    ranges: true,
  } as FakeRegistry;

  const authorized = (req: http.IncomingMessage): boolean => {
    const h = req.headers.authorization;
    if (auth.kind === "none") return true;
    if (auth.kind === "basic") {
      return h === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
    }
    return h === `Bearer ${TOKEN}`;
  };
  const challenge = (scope?: string): string => {
    if (auth.kind === "basic") return 'Basic realm="fake registry"';
    return `Bearer realm="${reg.origin}/token",service="fake, registry"${scope ? `,scope="${scope}"` : ""}`;
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const seen = { method: req.method ?? "GET", path: `${url.pathname}${url.search}`, headers: req.headers };
    if (url.pathname === "/token" && auth.kind === "bearer") {
      reg.tokenRequests.push(seen);
      if (auth.username !== undefined) {
        const want = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
        if (req.headers.authorization !== want) {
          res.writeHead(401).end('{"details":"bad credentials"}');
          return;
        }
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ [auth.field]: TOKEN, expires_in: 300 }));
      return;
    }
    reg.requests.push(seen);
    if (reg.intercept?.(req, res, seen)) return;
    if (!authorized(req)) {
      const m = /^\/v2\/(.+)\/(manifests|blobs|tags)\//.exec(url.pathname);
      res.writeHead(401, {
        "www-authenticate": challenge(m ? `repository:${m[1]}:pull` : undefined),
        "content-type": "application/json",
      });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (url.pathname === "/v2/") {
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
      return;
    }
    let m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const found = reg.manifests.get(`${m[1]}@${m[2]}`);
      if (!found) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
        return;
      }
      res.writeHead(200, {
        "content-type": found.mediaType,
        "docker-content-digest": sha256(found.body),
        "content-length": found.body.length,
      });
      res.end(found.body);
      return;
    }
    m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const blob = reg.blobs.get(m[2]!);
      if (!blob) {
        res.writeHead(404).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
        return;
      }
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      if (range && reg.ranges) {
        const start = Number(range[1]);
        res.writeHead(206, {
          "content-range": `bytes ${start}-${blob.length - 1}/${blob.length}`,
          "content-length": blob.length - start,
          "accept-ranges": "bytes",
        });
        res.end(blob.subarray(start));
        return;
      }
      res.writeHead(200, {
        "content-length": blob.length,
        ...(reg.ranges ? { "accept-ranges": "bytes" } : {}),
      });
      res.end(blob);
      return;
    }
    m = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
    if (m) {
      const repo = m[1]!;
      const all = [...reg.manifests.keys()]
        .filter((k) => k.startsWith(`${repo}@`) && !k.includes("@sha256:"))
        .map((k) => k.slice(repo.length + 1))
        .sort();
      const n = Number(url.searchParams.get("n") ?? "100");
      const last = url.searchParams.get("last");
      const from = last ? all.indexOf(last) + 1 : 0;
      const page = all.slice(from, from + n);
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (from + n < all.length) {
        headers.link = `</v2/${repo}/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"`;
      }
      res.writeHead(200, headers).end(JSON.stringify({ name: repo, tags: page }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  reg.host = `127.0.0.1:${port}`;
  reg.origin = `http://127.0.0.1:${port}`;
  reg.putBlob = (data, mediaType = "application/vnd.oci.image.layer.v1.tar") => {
    const digest = sha256(data);
    reg.blobs.set(digest, data);
    return { mediaType, digest, size: data.length };
  };
  reg.putManifest = (repo, body, mediaType, tag) => {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const digest = sha256(bytes);
    reg.manifests.set(`${repo}@${digest}`, { mediaType, body: bytes });
    if (tag !== undefined) reg.manifests.set(`${repo}@${tag}`, { mediaType, body: bytes });
    return { mediaType, digest, size: bytes.length };
  };
  reg.pushImage = (repo, tag, platform, layerData) => {
    const layer = reg.putBlob(layerData ?? Buffer.from(`layer for ${platform.architecture}`));
    const config = reg.putBlob(
      Buffer.from(JSON.stringify({ ...platform, rootfs: { type: "layers", diff_ids: [layer.digest] } })),
      "application/vnd.oci.image.config.v1+json",
    );
    const manifest = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config,
      layers: [layer],
    };
    return { ...reg.putManifest(repo, manifest, manifest.mediaType, tag), layer };
  };
  reg.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return reg;
}
