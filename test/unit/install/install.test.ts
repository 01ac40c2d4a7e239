// installBinaries against a local HTTP server: verified streaming, nothing left behind on a mismatch, skip and --force.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { installBinaries } from "../../../src/install/install.js";
import { DigestMismatchError } from "../../../src/errors.js";

const BIN = Buffer.from("#!/bin/sh\necho fake-runc 1.0\n");
const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

let server: http.Server;
let origin = "";
const files = new Map<string, Buffer>();
const hits: string[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    hits.push(req.url ?? "");
    if (req.url === "/moved/runc") {
      res.writeHead(302, { location: "/files/runc" }).end();
      return;
    }
    const body = files.get(req.url ?? "");
    if (!body) {
      res.writeHead(404).end("no");
      return;
    }
    res.writeHead(200, { "content-length": body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

/** Serves a manifest pinning `pinned` for runc at `url` and returns an env pointing at it. */
function serveManifest(pinned: string, url = "files/runc", extra: object[] = []): NodeJS.ProcessEnv {
  const manifest = {
    binaries: [
      { name: "runc", version: "1.0", platform: `linux-${process.arch}`, url, sha256: pinned },
      ...extra,
    ],
  };
  files.set("/manifest.json", Buffer.from(JSON.stringify(manifest)));
  return { BURROW_INSTALL_MANIFEST: `${origin}/manifest.json` };
}

function tmpStore(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "burrow-install-"));
}

const req = (storeRoot: string, env: NodeJS.ProcessEnv, force = false) => ({
  storeRoot,
  packageRoot: "/nonexistent",
  env,
  force,
  fetch: { retry: { tries: 2, baseDelayMs: 1, maxDelayMs: 1 } },
});

describe("install", () => {
  test("a good checksum installs the binary, mode 0755, nothing else in bin/", async () => {
    files.set("/files/runc", BIN);
    const store = tmpStore();
    const out = await installBinaries(req(store, serveManifest(sha(BIN))));
    assert.equal(out[0]?.action, "installed");
    const dest = path.join(store, "bin", "runc");
    assert.deepEqual(fs.readFileSync(dest), BIN);
    assert.equal(fs.statSync(dest).mode & 0o777, 0o755);
    assert.deepEqual(fs.readdirSync(path.join(store, "bin")), ["runc"]);
  });

  test("redirects are followed", async () => {
    files.set("/files/runc", BIN);
    const store = tmpStore();
    await installBinaries(req(store, serveManifest(sha(BIN), "moved/runc")));
    assert.deepEqual(fs.readFileSync(path.join(store, "bin", "runc")), BIN);
  });

  test("a bad checksum refuses, leaves no file and keeps the binary already there", async () => {
    files.set("/files/runc", BIN);
    const store = tmpStore();
    fs.mkdirSync(path.join(store, "bin"));
    fs.writeFileSync(path.join(store, "bin", "runc"), "old", { mode: 0o755 });
    await assert.rejects(installBinaries(req(store, serveManifest("b".repeat(64)))), (err: unknown) => {
      assert.ok(err instanceof DigestMismatchError);
      assert.match(
        err.message,
        /refusing runc 1\.0 from .*: its sha256 is [a-f0-9]{64}, the manifest pins b{64}; nothing was installed/,
      );
      assert.equal(err.exitCode, undefined, "the command's own failure status: 1 for install");
      return true;
    });
    assert.deepEqual(fs.readdirSync(path.join(store, "bin")), ["runc"]);
    assert.equal(fs.readFileSync(path.join(store, "bin", "runc"), "utf8"), "old");
  });

  test("an installed binary with the pinned checksum is skipped; --force downloads it again", async () => {
    files.set("/files/runc", BIN);
    const store = tmpStore();
    const env = serveManifest(sha(BIN));
    await installBinaries(req(store, env));
    hits.length = 0;
    const again = await installBinaries(req(store, env));
    assert.equal(again[0]?.action, "skipped");
    assert.deepEqual(hits, ["/manifest.json"]);
    const forced = await installBinaries(req(store, env, true));
    assert.equal(forced[0]?.action, "replaced");
    assert.ok(hits.includes("/files/runc"));
  });

  test("BURROW_INSTALL_URL fetches <mirror>/<name>-<version>-<platform>", async () => {
    files.set(`/mirror/runc-1.0-linux-${process.arch}`, BIN);
    const store = tmpStore();
    const env = {
      ...serveManifest(sha(BIN), "https://unreachable.invalid/runc"),
      BURROW_INSTALL_URL: `${origin}/mirror/`,
    };
    await installBinaries(req(store, env));
    assert.deepEqual(fs.readFileSync(path.join(store, "bin", "runc")), BIN);
  });

  test("HTTP 404 is one line naming the URL and BURROW_INSTALL_URL", async () => {
    const store = tmpStore();
    await assert.rejects(
      installBinaries(req(store, serveManifest(sha(BIN), "files/missing"))),
      (err: Error) => {
        assert.match(
          err.message,
          /^cannot download http:\/\/127\.0\.0\.1:\d+\/files\/missing: .*HTTP 404.*BURROW_INSTALL_URL/,
        );
        assert.ok(!err.message.includes("\n"));
        return true;
      },
    );
    assert.deepEqual(fs.readdirSync(path.join(store, "bin")), []);
  });

  test("a closed port is one line saying the connection was refused", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const store = tmpStore();
    const env = { ...serveManifest(sha(BIN)), BURROW_INSTALL_URL: `http://127.0.0.1:${port}` };
    await assert.rejects(
      installBinaries(req(store, env)),
      /ECONNREFUSED \(connection refused\).*BURROW_INSTALL_URL/,
    );
  });
});
