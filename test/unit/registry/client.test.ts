// Fault tests of the registry client against small registries of the tests' own on 127.0.0.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { RegistryClient } from "../../../src/registry/client.js";
import type { RegistryClientOptions } from "../../../src/registry/client.js";
import { parseReference } from "../../../src/registry/reference.js";
import {
  AuthenticationError,
  DigestMismatchError,
  ManifestUnknownError,
  PlatformNotFoundError,
  RegistryError,
  UnsupportedManifestError,
} from "../../../src/errors.js";
import { startFakeRegistry, sha256 } from "./fake-registry.js";
import type { FakeAuth, FakeRegistry } from "./fake-registry.js";

const FAST_RETRY = { tries: 5, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 300 };
const linuxAmd64 = { os: "linux", architecture: "amd64" };

function client(extra: RegistryClientOptions = {}): RegistryClient {
  return new RegistryClient({ insecure: () => true, retry: FAST_RETRY, ...extra });
}

/** Runs `fn` with a fresh fake registry and a temp dir, tearing both down after. */
async function withRegistry(
  auth: FakeAuth,
  fn: (reg: FakeRegistry, dir: string) => Promise<void>,
): Promise<void> {
  const reg = await startFakeRegistry(auth);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-registry-test-"));
  try {
    await fn(reg, dir);
  } finally {
    await reg.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("resolves an anonymous image over plain HTTP and downloads its layer verified", async () => {
  await withRegistry({ kind: "none" }, async (reg, dir) => {
    const pushed = reg.pushImage("team/tool", "1.0", linuxAmd64);
    const ref = parseReference(`${reg.host}/team/tool:1.0`);
    const c = client();
    const img = await c.resolveImage(ref, linuxAmd64);
    assert.equal(img.manifestDigest, pushed.digest);
    assert.equal(img.indexDigest, undefined);
    assert.equal(img.manifest.layers.length, 1);
    assert.equal(img.configDigest, sha256(img.config));
    assert.deepEqual(img.platform, linuxAmd64);
    assert.equal(img.platformMatches, true);
    const dest = path.join(dir, "blob");
    const seen: number[] = [];
    await c.downloadBlob(ref, pushed.layer, dest, { onProgress: (n) => seen.push(n) });
    assert.equal(sha256(fs.readFileSync(dest)), pushed.layer.digest);
    assert.equal(seen[seen.length - 1], pushed.layer.size);
    assert.deepEqual(fs.readdirSync(dir), ["blob"]);
  });
});

test("a secure client does not fall back to plain HTTP and says how to allow it", async () => {
  await withRegistry({ kind: "none" }, async (reg) => {
    reg.pushImage("a", "1", linuxAmd64);
    const c = new RegistryClient({ retry: FAST_RETRY });
    await assert.rejects(c.getManifest(parseReference(`${reg.host}/a:1`)), (err: Error) => {
      assert.ok(err instanceof RegistryError);
      assert.match(err.message, /does not answer HTTPS/);
      assert.match(err.message, /--insecure/);
      return true;
    });
  });
});

for (const field of ["token", "access_token"] as const) {
  test(`bearer token flow with the token in "${field}", cached for later requests`, async () => {
    await withRegistry({ kind: "bearer", field }, async (reg, dir) => {
      const pushed = reg.pushImage("library/app", "latest", linuxAmd64);
      const ref = parseReference(`${reg.host}/library/app`);
      const c = client();
      await c.resolveImage(ref, linuxAmd64);
      await c.downloadBlob(ref, pushed.layer, path.join(dir, "l"));
      assert.equal(reg.tokenRequests.length, 1);
      const tokenUrl = new URL(reg.tokenRequests[0]!.path, "http://x");
      assert.equal(tokenUrl.searchParams.get("service"), "fake, registry");
      assert.equal(tokenUrl.searchParams.get("scope"), "repository:library/app:pull");
      assert.equal(reg.tokenRequests[0]!.headers.authorization, undefined);
    });
  });
}

test("bearer token request carries Basic credentials when there are some; wrong ones are refused without the secret", async () => {
  await withRegistry(
    { kind: "bearer", field: "token", username: "me", password: "s3cret-pw" },
    async (reg) => {
      reg.pushImage("p", "1", linuxAmd64);
      const ref = parseReference(`${reg.host}/p:1`);
      const good = client({ credentials: () => ({ username: "me", password: "s3cret-pw" }) });
      await good.getManifest(ref);
      const sent = reg.tokenRequests[0]!;
      assert.equal(sent.headers.authorization, `Basic ${Buffer.from("me:s3cret-pw").toString("base64")}`);
      assert.equal(new URL(sent.path, "http://x").searchParams.get("account"), "me");
      assert.deepEqual(await good.ping(reg.host), { scheme: "http", authenticated: true });

      const bad = client({ credentials: () => ({ username: "me", password: "wrong-pw" }) });
      await assert.rejects(bad.ping(reg.host), (err: Error) => {
        assert.ok(err instanceof AuthenticationError);
        assert.match(err.message, /burrow login/);
        assert.doesNotMatch(err.message, /wrong-pw/);
        return true;
      });
    },
  );
});

test("basic auth: credentials are sent, missing or wrong ones give AuthenticationError", async () => {
  await withRegistry({ kind: "basic", username: "u", password: "pw-123" }, async (reg) => {
    reg.pushImage("b", "1", linuxAmd64);
    const ref = parseReference(`${reg.host}/b:1`);
    const c = client({ credentials: () => ({ username: "u", password: "pw-123" }) });
    await c.getManifest(ref);
    assert.equal(
      reg.requests[reg.requests.length - 1]!.headers.authorization,
      `Basic ${Buffer.from("u:pw-123").toString("base64")}`,
    );
    await assert.rejects(client().getManifest(ref), (err: Error) => {
      assert.ok(err instanceof AuthenticationError);
      assert.match(err.message, new RegExp(`burrow login ${reg.host}`));
      return true;
    });
    const wrong = client({ credentials: () => ({ username: "u", password: "nope-456" }) });
    await assert.rejects(wrong.ping(reg.host), (err: Error) => {
      assert.ok(err instanceof AuthenticationError);
      assert.doesNotMatch(err.message, /nope-456/);
      return true;
    });
  });
});

test("a 500 is retried and the next answer used", async () => {
  await withRegistry({ kind: "none" }, async (reg) => {
    reg.pushImage("r", "1", linuxAmd64);
    let failures = 2;
    reg.intercept = (_req, res, seen) => {
      if (seen.path.includes("/manifests/") && failures > 0) {
        failures--;
        res.writeHead(500).end("boom");
        return true;
      }
      return false;
    };
    const m = await client().getManifest(parseReference(`${reg.host}/r:1`));
    assert.equal(failures, 0);
    assert.equal(m.mediaType, "application/vnd.oci.image.manifest.v1+json");
  });
});

test("a 500 that persists ends in a RegistryError after the allowed tries", async () => {
  await withRegistry({ kind: "none" }, async (reg) => {
    let count = 0;
    reg.intercept = (_req, res, seen) => {
      if (!seen.path.includes("/manifests/")) return false;
      count++;
      res.writeHead(503).end();
      return true;
    };
    await assert.rejects(client().getManifest(parseReference(`${reg.host}/r:1`)), RegistryError);
    assert.equal(count, FAST_RETRY.tries);
  });
});

test("a 429 with Retry-After is waited out (up to the cap)", async () => {
  await withRegistry({ kind: "none" }, async (reg) => {
    reg.pushImage("r", "1", linuxAmd64);
    let first = 0;
    let retried = 0;
    reg.intercept = (_req, res, seen) => {
      if (!seen.path.includes("/manifests/")) return false;
      if (first === 0) {
        first = Date.now();
        res.writeHead(429, { "retry-after": "1" }).end();
        return true;
      }
      retried = Date.now();
      return false;
    };
    await client().getManifest(parseReference(`${reg.host}/r:1`));
    // Retry-After: 1 asks for 1000 ms; the test policy caps it at 300 ms, far above its 1-5 ms backoff.
    assert.ok(retried - first >= 250, `waited only ${retried - first} ms`);
  });
});

/** Makes the first blob request send half of the blob, then drop the connection. */
function dropFirstBlobHalfway(reg: FakeRegistry, digest: string): void {
  let dropped = false;
  reg.intercept = (_req, res, seen) => {
    if (dropped || !seen.path.endsWith(`/blobs/${digest}`)) return false;
    dropped = true;
    const blob = reg.blobs.get(digest)!;
    res.writeHead(200, {
      "content-length": blob.length,
      ...(reg.ranges ? { "accept-ranges": "bytes" } : {}),
    });
    res.write(blob.subarray(0, blob.length / 2), () => setTimeout(() => res.socket?.destroy(), 20));
    return true;
  };
}

test("a blob download resumes with Range after the registry drops the connection", async () => {
  await withRegistry({ kind: "none" }, async (reg, dir) => {
    // 1 MiB: the download hands bytes on to the file in 256 KiB pieces, so the half sent holds two.
    const pushed = reg.pushImage("big", "1", linuxAmd64, Buffer.alloc(1024 * 1024, 7));
    dropFirstBlobHalfway(reg, pushed.layer.digest);
    const dest = path.join(dir, "blob");
    await client().downloadBlob(parseReference(`${reg.host}/big:1`), pushed.layer, dest);
    assert.equal(sha256(fs.readFileSync(dest)), pushed.layer.digest);
    const blobReqs = reg.requests.filter((r) => r.path.includes("/blobs/"));
    assert.equal(blobReqs.length, 2);
    // The resume starts where the file ends: at most the half that was sent (a reset may lose some of it,
    // and the piece not yet handed on).
    const from = Number(/^bytes=(\d+)-$/.exec(blobReqs[1]!.headers.range ?? "")?.[1]);
    assert.ok(from > 0 && from <= 512 * 1024, `resumed from ${blobReqs[1]!.headers.range}`);
    assert.deepEqual(fs.readdirSync(dir), ["blob"]);
  });
});

test("a blob download restarts from zero after a drop when the registry does not do ranges", async () => {
  await withRegistry({ kind: "none" }, async (reg, dir) => {
    reg.ranges = false;
    const pushed = reg.pushImage("big", "1", linuxAmd64, Buffer.alloc(256 * 1024, 9));
    dropFirstBlobHalfway(reg, pushed.layer.digest);
    const dest = path.join(dir, "blob");
    await client().downloadBlob(parseReference(`${reg.host}/big:1`), pushed.layer, dest);
    assert.equal(sha256(fs.readFileSync(dest)), pushed.layer.digest);
    const blobReqs = reg.requests.filter((r) => r.path.includes("/blobs/"));
    assert.equal(blobReqs.length, 2);
    assert.equal(blobReqs[1]!.headers.range, undefined);
  });
});

test("a corrupted blob is refused with DigestMismatchError and leaves no file", async () => {
  await withRegistry({ kind: "none" }, async (reg, dir) => {
    const pushed = reg.pushImage("c", "1", linuxAmd64, Buffer.from("the real layer"));
    reg.blobs.set(pushed.layer.digest, Buffer.from("the evil layer"));
    const dest = path.join(dir, "blob");
    await assert.rejects(
      client().downloadBlob(parseReference(`${reg.host}/c:1`), pushed.layer, dest),
      (err: Error) => {
        assert.ok(err instanceof DigestMismatchError);
        assert.equal(
          err.message,
          `blob ${pushed.layer.digest} from ${reg.host}/c does not match its digest; the registry or a proxy corrupted it`,
        );
        return true;
      },
    );
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

test("a blob longer than its descriptor is cut off and refused", async () => {
  await withRegistry({ kind: "none" }, async (reg, dir) => {
    const pushed = reg.pushImage("c", "1", linuxAmd64, Buffer.from("short"));
    reg.blobs.set(pushed.layer.digest, Buffer.alloc(100_000, 1));
    await assert.rejects(
      client().downloadBlob(parseReference(`${reg.host}/c:1`), pushed.layer, path.join(dir, "b")),
      DigestMismatchError,
    );
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

test("an aborted download rejects with the abort reason and leaves no file", async () => {
  await withRegistry({ kind: "none" }, async (reg, dir) => {
    const pushed = reg.pushImage("slow", "1", linuxAmd64, Buffer.alloc(64 * 1024, 3));
    reg.intercept = (_req, res, seen) => {
      if (!seen.path.includes("/blobs/sha256")) return false;
      res.writeHead(200, { "content-length": pushed.layer.size });
      res.write(Buffer.alloc(1024, 3)); // then stall
      return true;
    };
    const ac = new AbortController();
    const progress: number[] = [];
    const done = client().downloadBlob(
      parseReference(`${reg.host}/slow:1`),
      pushed.layer,
      path.join(dir, "b"),
      {
        signal: ac.signal,
        onProgress: (n) => {
          progress.push(n);
          if (n > 0) ac.abort(new Error("user pressed ^C"));
        },
      },
    );
    await assert.rejects(done, /user pressed \^C/);
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

test("a redirect to another origin is followed without the Authorization header", async () => {
  const storageSeen: http.IncomingHttpHeaders[] = [];
  const storage = http.createServer((req, res) => {
    storageSeen.push(req.headers);
    const digest = /\/(sha256:[a-f0-9]+)$/.exec(new URL(req.url ?? "/", "http://x").pathname)?.[1];
    const blob = digest ? storageBlobs.get(digest) : undefined;
    if (!blob) return void res.writeHead(404).end();
    res.writeHead(200, { "content-length": blob.length }).end(blob);
  });
  const storageBlobs = new Map<string, Buffer>();
  await new Promise<void>((resolve) => storage.listen(0, "127.0.0.1", resolve));
  const storageOrigin = `http://127.0.0.1:${(storage.address() as AddressInfo).port}`;
  try {
    await withRegistry({ kind: "bearer", field: "token" }, async (reg, dir) => {
      const pushed = reg.pushImage("red", "1", linuxAmd64, Buffer.from("redirected layer"));
      storageBlobs.set(pushed.layer.digest, reg.blobs.get(pushed.layer.digest)!);
      reg.intercept = (req, res, seen) => {
        if (!seen.path.endsWith(`/blobs/${pushed.layer.digest}`) || !req.headers.authorization) return false;
        res.writeHead(307, { location: `${storageOrigin}/store/${pushed.layer.digest}?sig=abc` }).end();
        return true;
      };
      const dest = path.join(dir, "blob");
      await client().downloadBlob(parseReference(`${reg.host}/red:1`), pushed.layer, dest);
      assert.equal(fs.readFileSync(dest, "utf8"), "redirected layer");
      assert.equal(storageSeen.length, 1);
      assert.equal(storageSeen[0]!.authorization, undefined);
    });
  } finally {
    storage.closeAllConnections();
    await new Promise<void>((resolve) => storage.close(() => resolve()));
  }
});

test("a Docker schema 1 manifest is refused with a clear message", async () => {
  await withRegistry({ kind: "none" }, async (reg) => {
    reg.putManifest(
      "old",
      { schemaVersion: 1, name: "old", tag: "1", fsLayers: [], history: [] },
      "application/vnd.docker.distribution.manifest.v1+prettyjws",
      "1",
    );
    await assert.rejects(
      client().resolveImage(parseReference(`${reg.host}/old:1`), linuxAmd64),
      (err: Error) => {
        assert.ok(err instanceof UnsupportedManifestError);
        assert.match(err.message, /schema 1/);
        return true;
      },
    );
  });
});

test("an index resolves to the manifest of the requested platform; a missing one lists what exists", async () => {
  await withRegistry({ kind: "none" }, async (reg) => {
    const amd = reg.pushImage("multi", undefined, linuxAmd64);
    const arm = reg.pushImage("multi", undefined, { os: "linux", architecture: "arm64", variant: "v8" });
    const armv7 = reg.pushImage("multi", undefined, { os: "linux", architecture: "arm", variant: "v7" });
    const index = reg.putManifest(
      "multi",
      {
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          { ...pick(amd), platform: { os: "linux", architecture: "amd64" } },
          { ...pick(arm), platform: { os: "linux", architecture: "arm64" } },
          { ...pick(armv7), platform: { os: "linux", architecture: "arm", variant: "v7" } },
          { ...pick(amd), platform: { os: "unknown", architecture: "unknown" } },
        ],
      },
      "application/vnd.oci.image.index.v1+json",
      "latest",
    );
    const ref = parseReference(`${reg.host}/multi`);
    const c = client();
    const img = await c.resolveImage(ref, { os: "linux", architecture: "arm64", variant: "v8" });
    assert.equal(img.indexDigest, index.digest);
    assert.equal(img.manifestDigest, arm.digest);
    assert.deepEqual(img.platform, { os: "linux", architecture: "arm64", variant: "v8" });
    const v6 = await c.resolveImage(ref, { os: "linux", architecture: "arm", variant: "v8" });
    assert.equal(v6.manifestDigest, armv7.digest);
    await assert.rejects(c.resolveImage(ref, { os: "linux", architecture: "s390x" }), (err: Error) => {
      assert.ok(err instanceof PlatformNotFoundError);
      assert.match(err.message, /linux\/s390x/);
      assert.match(err.message, /linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7/);
      return true;
    });
  });
});

function pick(d: { mediaType: string; digest: string; size: number }): {
  mediaType: string;
  digest: string;
  size: number;
} {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

test("an unknown tag gives ManifestUnknownError naming the reference", async () => {
  await withRegistry({ kind: "none" }, async (reg) => {
    await assert.rejects(client().getManifest(parseReference(`${reg.host}/nope:v9`)), (err: Error) => {
      assert.ok(err instanceof ManifestUnknownError);
      assert.match(err.message, new RegExp(`${reg.host}/nope:v9 not found`));
      return true;
    });
  });
});

test("a manifest fetched by digest is checked against it", async () => {
  await withRegistry({ kind: "none" }, async (reg) => {
    const pushed = reg.pushImage("d", "1", linuxAmd64);
    const entry = reg.manifests.get(`d@${pushed.digest}`)!;
    entry.body = Buffer.from(entry.body.toString().replace("layers", "layers "));
    await assert.rejects(
      client().getManifest(parseReference(`${reg.host}/d:1`), pushed.digest),
      DigestMismatchError,
    );
  });
});

test("listTags follows Link pagination", async () => {
  await withRegistry({ kind: "none" }, async (reg) => {
    for (const t of ["a", "b", "c", "d", "e"]) reg.pushImage("t", t, linuxAmd64);
    const tags = await client().listTags(parseReference(`${reg.host}/t`), 2);
    assert.deepEqual(tags, ["a", "b", "c", "d", "e"]);
    assert.equal(reg.requests.filter((r) => r.path.includes("/tags/list")).length, 3);
  });
});

test("listTags stops when the Link header points back at a page already read", async () => {
  let lists = 0;
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith("/v2/t/tags/list")) {
      lists++;
      res.setHeader("link", '</v2/t/tags/list?n=1000>; rel="next"');
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ name: "t", tags: ["a"] }));
      return;
    }
    res.setHeader("docker-distribution-api-version", "registry/2.0");
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    const tags = await client().listTags(parseReference(`127.0.0.1:${port}/t`));
    assert.deepEqual(tags, ["a"]);
    assert.equal(lists, 1, "the page that links to itself is read once");
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("an unreachable registry gives a one-line RegistryError", async () => {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const c = new RegistryClient({ retry: FAST_RETRY });
  await assert.rejects(c.ping(`127.0.0.1:${port}`), (err: Error) => {
    assert.ok(err instanceof RegistryError);
    assert.equal(
      err.message,
      `cannot reach 127.0.0.1:${port}: ECONNREFUSED (connection refused); check the address or use --insecure for plain HTTP`,
    );
    return true;
  });
});
