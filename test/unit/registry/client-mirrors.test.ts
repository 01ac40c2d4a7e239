// The registry client with mirrors: order, fallthrough on every kind of failure, credentials, offline.
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
import { parseMirrorsEnv, mirrorRuleFor } from "../../../src/registry/mirrors.js";
import { ManifestUnknownError, OfflineError, RegistryError } from "../../../src/errors.js";
import { startFakeRegistry, sha256 } from "./fake-registry.js";
import type { FakeRegistry } from "./fake-registry.js";

const FAST_RETRY = { tries: 5, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 300 };
const linuxAmd64 = { os: "linux", architecture: "amd64" };

/** A client whose mirrors are `mirrors` (BURROW_REGISTRY_MIRRORS syntax); `debug` collects its lines. */
function client(mirrors: string, extra: RegistryClientOptions = {}, debug: string[] = []): RegistryClient {
  const rules = parseMirrorsEnv(mirrors);
  return new RegistryClient({
    insecure: () => true,
    retry: FAST_RETRY,
    mirrors: (registry) => mirrorRuleFor(rules, registry),
    debug: (line) => debug.push(line),
    ...extra,
  });
}

/** A loopback port where nothing listens. */
async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs `fn` with `n` fake registries and a temp dir, tearing them down after. */
async function withRegistries(
  n: number,
  fn: (regs: FakeRegistry[], dir: string) => Promise<void>,
): Promise<void> {
  const regs: FakeRegistry[] = [];
  for (let i = 0; i < n; i++) regs.push(await startFakeRegistry());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-mirror-test-"));
  try {
    await fn(regs, dir);
  } finally {
    for (const r of regs) await r.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Requests other than the /v2/ ping. */
const apiRequests = (reg: FakeRegistry): string[] =>
  reg.requests.map((r) => r.path).filter((p) => p !== "/v2/");

test("a mirror of docker.io is asked for library/NAME and the image keeps its own name", async () => {
  await withRegistries(1, async ([mirror], dir) => {
    const pushed = mirror!.pushImage("library/alpine", "latest", linuxAmd64);
    const c = client(`docker.io=http://${mirror!.host},nofallback`);
    const ref = parseReference("alpine");
    const img = await c.resolveImage(ref, linuxAmd64);
    assert.equal(img.manifestDigest, pushed.digest);
    assert.equal(img.source, `mirror http://${mirror!.host}`);
    await c.downloadBlob(ref, pushed.layer, path.join(dir, "blob"));
    assert.equal(sha256(fs.readFileSync(path.join(dir, "blob"))), pushed.layer.digest);
    assert.deepEqual(apiRequests(mirror!), [
      "/v2/library/alpine/manifests/latest",
      `/v2/library/alpine/blobs/${img.configDigest}`,
      `/v2/library/alpine/blobs/${pushed.layer.digest}`,
    ]);
    assert.equal(ref.toString(), "docker.io/library/alpine:latest");
  });
});

test("mirrors are tried in order, then the registry; a down mirror is skipped for the rest of the run", async () => {
  await withRegistries(2, async ([mirror, origin], dir) => {
    const pushed = mirror!.pushImage("team/tool", "1.0", linuxAmd64);
    origin!.pushImage("team/tool", "1.0", linuxAmd64);
    const dead = await deadPort();
    const debug: string[] = [];
    const c = client(`${origin!.host}=http://127.0.0.1:${dead},http://${mirror!.host}`, {}, debug);
    const ref = parseReference(`${origin!.host}/team/tool:1.0`);
    const img = await c.resolveImage(ref, linuxAmd64);
    assert.equal(img.source, `mirror http://${mirror!.host}`);
    await c.downloadBlob(ref, pushed.layer, path.join(dir, "blob"));
    assert.deepEqual(apiRequests(origin!), [], "the registry itself is not asked when a mirror answers");
    assert.ok(
      debug.some(
        (l) => l.includes(`mirror http://127.0.0.1:${dead} failed (`) && l.includes("connection refused"),
      ),
      debug.join("\n"),
    );
    // The blob went to the mirror that served the manifest; the dead one was not tried again.
    assert.equal(debug.filter((l) => l.includes(`127.0.0.1:${dead} failed`)).length, 1, debug.join("\n"));
  });
});

test("a mirror answering 5xx, a 404, bad JSON or a config that fails its digest falls through", async () => {
  const faults: [string, (res: http.ServerResponse, p: string) => boolean][] = [
    ["HTTP 503", (res) => (res.writeHead(503).end("busy"), true)],
    ["a 404", (res) => (res.writeHead(404).end(), true)],
    [
      "bad JSON",
      (res, p) =>
        p.includes("/manifests/")
          ? (res
              .writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" })
              .end("{not json"),
            true)
          : false,
    ],
    [
      "a forged config",
      (res, p) =>
        p.includes("/blobs/") ? (res.writeHead(200, { "content-length": 2 }).end("{}"), true) : false,
    ],
  ];
  for (const [name, fault] of faults) {
    await withRegistries(2, async ([bad, origin]) => {
      const pushed = origin!.pushImage("team/tool", "1.0", linuxAmd64);
      bad!.pushImage("team/tool", "1.0", linuxAmd64);
      bad!.intercept = (req, res, seen) => seen.path !== "/v2/" && fault(res, seen.path);
      const debug: string[] = [];
      const c = client(`${origin!.host}=http://${bad!.host}`, {}, debug);
      const img = await c.resolveImage(parseReference(`${origin!.host}/team/tool:1.0`), linuxAmd64);
      assert.equal(img.manifestDigest, pushed.digest, name);
      assert.equal(img.source, origin!.host, name);
      assert.ok(
        debug.some((l) => l.includes(`mirror http://${bad!.host} failed`)),
        `${name}: ${debug.join("\n")}`,
      );
    });
  }
});

test("a layer that fails its digest at a mirror is fetched again from the next place", async () => {
  await withRegistries(2, async ([bad, origin], dir) => {
    const pushed = origin!.pushImage("team/tool", "1.0", linuxAmd64);
    bad!.pushImage("team/tool", "1.0", linuxAmd64);
    bad!.blobs.set(pushed.layer.digest, Buffer.alloc(pushed.layer.size, 0x41));
    const c = client(`${origin!.host}=http://${bad!.host}`);
    const ref = parseReference(`${origin!.host}/team/tool:1.0`);
    await c.resolveImage(ref, linuxAmd64);
    await c.downloadBlob(ref, pushed.layer, path.join(dir, "blob"));
    assert.equal(sha256(fs.readFileSync(path.join(dir, "blob"))), pushed.layer.digest);
    assert.deepEqual(fs.readdirSync(dir), ["blob"]);
  });
});

test("nofallback: when every mirror fails, one error names each and the registry is never asked", async () => {
  await withRegistries(2, async ([empty, origin]) => {
    origin!.pushImage("team/tool", "1.0", linuxAmd64);
    const dead = await deadPort();
    const c = client(`${origin!.host}=http://127.0.0.1:${dead},http://${empty!.host},nofallback`);
    await assert.rejects(
      c.resolveImage(parseReference(`${origin!.host}/team/tool:1.0`), linuxAmd64),
      (err: Error) => {
        assert.ok(err instanceof RegistryError, String(err));
        assert.ok(!err.message.includes("\n"));
        assert.match(
          err.message,
          new RegExp(`^cannot fetch the manifest of ${origin!.host}/team/tool:1.0: tried `),
        );
        assert.match(
          err.message,
          new RegExp(`mirror http://127.0.0.1:${dead}: cannot reach .*connection refused`),
        );
        assert.match(err.message, new RegExp(`mirror http://${empty!.host}: .*not found`));
        assert.match(err.message, /itself is not asked: its mirrors say nofallback/);
        return true;
      },
    );
    assert.deepEqual(origin!.requests, []);
  });
});

test("an image no place has is ManifestUnknownError", async () => {
  await withRegistries(2, async ([m, origin]) => {
    const c = client(`${origin!.host}=http://${m!.host}`);
    await assert.rejects(
      c.resolveImage(parseReference(`${origin!.host}/team/none:1`), linuxAmd64),
      (err: Error) => err instanceof ManifestUnknownError && err.message.includes(`${origin!.host}: `),
    );
  });
});

test("a mirror URL's path is a namespace before the repository", async () => {
  await withRegistries(1, async ([mirror]) => {
    const pushed = mirror!.pushImage("hub-proxy/library/alpine", "3", linuxAmd64);
    const c = client(`docker.io=http://${mirror!.host}/hub-proxy,nofallback`);
    const img = await c.resolveImage(parseReference("alpine:3"), linuxAmd64);
    assert.equal(img.manifestDigest, pushed.digest);
    assert.equal(apiRequests(mirror!)[0], "/v2/hub-proxy/library/alpine/manifests/3");
    assert.deepEqual(await c.listTags(parseReference("alpine")), ["3"]);
  });
});

test("a mirror gets its own host's credentials, never the registry's", async () => {
  const mirror = await startFakeRegistry({ kind: "basic", username: "m", password: "mpw" });
  try {
    mirror.pushImage("team/tool", "1.0", linuxAmd64);
    const asked: string[] = [];
    const c = client(`quay.io=http://${mirror.host},nofallback`, {
      credentials: (registry) => {
        asked.push(registry);
        return registry === mirror.host
          ? { username: "m", password: "mpw" }
          : { username: "quay-user", password: "quay-secret" };
      },
    });
    await c.resolveImage(parseReference("quay.io/team/tool:1.0"), linuxAmd64);
    assert.deepEqual([...new Set(asked)], [mirror.host]);
    const sent = mirror.requests.map((r) => r.headers.authorization ?? "").join(" ");
    assert.ok(!sent.includes(Buffer.from("quay-user:quay-secret").toString("base64")));
  } finally {
    await mirror.close();
  }
});

test("offline: nothing is sent to any mirror or registry", async () => {
  await withRegistries(1, async ([mirror]) => {
    mirror!.pushImage("library/alpine", "latest", linuxAmd64);
    const c = client(`docker.io=http://${mirror!.host}`, { offline: true });
    await assert.rejects(c.resolveImage(parseReference("alpine"), linuxAmd64), OfflineError);
    await assert.rejects(c.listTags(parseReference("alpine")), OfflineError);
    assert.deepEqual(mirror!.requests, []);
  });
});
