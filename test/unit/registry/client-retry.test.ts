// Every request the registry client makes (manifest, config, token, tags) survives a connection dropped
// while its answer is read, and says in one line what happened when the drops go on; oversized answers
// say what they are and the limit.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { RegistryClient } from "../../../src/registry/client.js";
import { retryExchange } from "../../../src/registry/retry.js";
import { parseReference } from "../../../src/registry/reference.js";
import { RegistryError, UnsupportedManifestError, causeChain } from "../../../src/errors.js";
import { startFakeRegistry } from "./fake-registry.js";
import type { FakeRegistry } from "./fake-registry.js";

const FAST_RETRY = { tries: 5, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 300 };
const linuxAmd64 = { os: "linux", architecture: "amd64" };

function client(debug?: (line: string) => void): RegistryClient {
  return new RegistryClient({ insecure: () => true, retry: FAST_RETRY, ...(debug ? { debug } : {}) });
}

/** Answers `body` with its full Content-Length but sends only half of it, then drops the connection. */
function sendHalfAndDrop(
  res: http.ServerResponse,
  body: Buffer,
  headers: http.OutgoingHttpHeaders = {},
): void {
  res.writeHead(200, { ...headers, "content-length": body.length });
  res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
}

/** Drops the first `count` answers to requests whose path `matches`, halfway through their body. */
function dropAnswers(
  reg: FakeRegistry,
  matches: (path: string) => boolean,
  count: number,
  body: () => Buffer,
): void {
  let dropped = 0;
  reg.intercept = (_req, res, seen) => {
    if (dropped >= count || !matches(seen.path)) return false;
    dropped++;
    sendHalfAndDrop(res, body(), { "content-type": "application/vnd.oci.image.manifest.v1+json" });
    return true;
  };
}

async function withRegistry(fn: (reg: FakeRegistry) => Promise<void>): Promise<void> {
  const reg = await startFakeRegistry({ kind: "none" });
  try {
    await fn(reg);
  } finally {
    await reg.close();
  }
}

test("a connection dropped during the config fetch is retried and the pull resolves", async () => {
  await withRegistry(async (reg) => {
    reg.pushImage("r", "1", linuxAmd64);
    const manifest = JSON.parse(reg.manifests.get("r@1")!.body.toString()) as { config: { digest: string } };
    const configPath = `/blobs/${manifest.config.digest}`;
    dropAnswers(
      reg,
      (p) => p.endsWith(configPath),
      2,
      () => reg.blobs.get(manifest.config.digest)!,
    );
    const lines: string[] = [];
    const img = await client((l) => lines.push(l)).resolveImage(
      parseReference(`${reg.host}/r:1`),
      linuxAmd64,
    );
    assert.equal(img.configDigest, manifest.config.digest);
    assert.equal(reg.requests.filter((r) => r.path.endsWith(configPath)).length, 3);
    assert.ok(
      lines.some((l) => /trying again/.test(l)),
      `--debug tells of the retry:\n${lines.join("\n")}`,
    );
  });
});

test("a connection dropped during the manifest fetch is retried", async () => {
  await withRegistry(async (reg) => {
    reg.pushImage("r", "1", linuxAmd64);
    dropAnswers(
      reg,
      (p) => p.endsWith("/manifests/1"),
      1,
      () => reg.manifests.get("r@1")!.body,
    );
    const img = await client().resolveImage(parseReference(`${reg.host}/r:1`), linuxAmd64);
    assert.equal(img.manifest.layers.length, 1);
    assert.equal(reg.requests.filter((r) => r.path.endsWith("/manifests/1")).length, 2);
  });
});

test("a connection dropped during a tags page is retried", async () => {
  await withRegistry(async (reg) => {
    reg.pushImage("r", "1", linuxAmd64);
    reg.pushImage("r", "2", linuxAmd64);
    dropAnswers(
      reg,
      (p) => p.includes("/tags/list"),
      1,
      () => Buffer.from('{"name":"r","tags":["1","2"]}'),
    );
    assert.deepEqual(await client().listTags(parseReference(`${reg.host}/r`)), ["1", "2"]);
  });
});

test("drops that go on end in one RegistryError that says how often it was tried, with a readable cause", async () => {
  await withRegistry(async (reg) => {
    reg.pushImage("r", "1", linuxAmd64);
    dropAnswers(
      reg,
      (p) => p.endsWith("/manifests/1"),
      100,
      () => reg.manifests.get("r@1")!.body,
    );
    const err = await client()
      .getManifest(parseReference(`${reg.host}/r:1`))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof RegistryError, String(err));
    assert.match(err.message, /the manifest of .*r:1 from 127\.0\.0\.1:\d+ failed after 5 tries/);
    assert.doesNotMatch(err.message, /\n/);
    const chain = causeChain(err).join("\n");
    assert.doesNotMatch(chain, /\[object Object\]/);
    assert.match(chain, /caused by: /);
    assert.equal(reg.requests.filter((r) => r.path.endsWith("/manifests/1")).length, 5);
  });
});

test("a token answer dropped halfway is retried (bearer registry)", async () => {
  let tokenTries = 0;
  const server = http.createServer((req, res) => {
    const origin = `http://${req.headers.host}`;
    if (req.url?.startsWith("/token")) {
      const body = Buffer.from(JSON.stringify({ token: "t0k", expires_in: 300 }));
      if (tokenTries++ === 0) return sendHalfAndDrop(res, body, { "content-type": "application/json" });
      res.writeHead(200, { "content-type": "application/json" }).end(body);
      return;
    }
    if (req.headers.authorization !== "Bearer t0k") {
      res.writeHead(401, { "www-authenticate": `Bearer realm="${origin}/token",service="x"` }).end("{}");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end('{"name":"r","tags":["a"]}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.deepEqual(await client().listTags(parseReference(`${host}/r`)), ["a"]);
    assert.equal(tokenTries, 2);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("a config over the size limit says how big it is and the limit, before fetching it", async () => {
  await withRegistry(async (reg) => {
    const pushed = reg.pushImage("r", "1", linuxAmd64);
    const manifest = JSON.parse(reg.manifests.get("r@1")!.body.toString()) as {
      config: { size: number; digest: string };
    };
    const huge = { ...manifest, config: { ...manifest.config, size: 40 * 1024 * 1024 } };
    reg.putManifest("r", huge, pushed.mediaType, "huge");
    const err = await client()
      .resolveImage(parseReference(`${reg.host}/r:huge`), linuxAmd64)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof UnsupportedManifestError, String(err));
    assert.match(err.message, /the config of .* is 41943040 bytes, over the limit of 33554432 bytes/);
    assert.doesNotMatch(err.message, /corrupt|proxy/);
    assert.equal(reg.requests.filter((r) => r.path.includes(manifest.config.digest)).length, 0);
  });
});

test("a manifest over the size limit says how big it is and the limit", async () => {
  await withRegistry(async (reg) => {
    reg.putManifest(
      "r",
      Buffer.alloc(5 * 1024 * 1024, 32),
      "application/vnd.oci.image.manifest.v1+json",
      "big",
    );
    const err = await client()
      .getManifest(parseReference(`${reg.host}/r:big`))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof RegistryError, String(err));
    assert.match(err.message, /5242880 bytes for the manifest of .*r:big, over the limit of 4194304 bytes/);
    assert.doesNotMatch(err.message, /corrupt/);
  });
});

test("retryExchange retries what is retryable, counts tries the sends did not, and stops at the policy", async () => {
  const tries = { count: 0 };
  let calls = 0;
  const reset = (): Error => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
  const got = await retryExchange(FAST_RETRY, tries, async () => {
    calls++;
    if (calls < 3) throw reset();
    return "ok";
  });
  assert.equal(got, "ok");
  assert.equal(calls, 3);
  assert.equal(tries.count, 2);
  const always = { count: 0 };
  await assert.rejects(
    retryExchange(FAST_RETRY, always, async () => {
      throw reset();
    }),
    /socket hang up/,
  );
  assert.equal(always.count, FAST_RETRY.tries);
  let once = 0;
  await assert.rejects(
    retryExchange(FAST_RETRY, { count: 0 }, async () => {
      once++;
      throw new RegistryError("a connection reset, said by burrow: not retried again");
    }),
    RegistryError,
  );
  assert.equal(once, 1);
});
