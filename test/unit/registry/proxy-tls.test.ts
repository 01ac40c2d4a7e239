// Proxies (NO_PROXY rules, a CONNECT tunnel through a local proxy) and TLS (verification, insecure registries).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import type { AddressInfo } from "node:net";
import { bypassesProxy, proxyFor } from "../../../src/registry/proxy.js";
import { RegistryClient } from "../../../src/registry/client.js";
import { parseReference } from "../../../src/registry/reference.js";
import { RegistryError } from "../../../src/errors.js";
import { startFakeRegistry } from "./fake-registry.js";

const FAST_RETRY = { tries: 3, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 100 };

test("NO_PROXY: exact hosts, suffixes, ports, * and loopback", () => {
  const np = "example.org,.corp.net,reg.io:5000,[::2]:443,10.0.0.1";
  assert.ok(bypassesProxy("example.org", 443, np));
  assert.ok(bypassesProxy("sub.example.org", 443, np));
  assert.ok(!bypassesProxy("badexample.org", 443, np));
  assert.ok(bypassesProxy("a.corp.net", 443, np));
  assert.ok(bypassesProxy("corp.net", 443, np));
  assert.ok(bypassesProxy("reg.io", 5000, np));
  assert.ok(!bypassesProxy("reg.io", 443, np));
  assert.ok(bypassesProxy("::2", 443, np));
  assert.ok(bypassesProxy("10.0.0.1", 80, np));
  assert.ok(bypassesProxy("anything", 1, "*"));
  assert.ok(bypassesProxy("localhost", 5000, undefined));
  assert.ok(bypassesProxy("127.0.0.1", 5000, ""));
  assert.ok(!bypassesProxy("registry-1.docker.io", 443, undefined));
});

test("proxyFor picks HTTPS_PROXY for https and HTTP_PROXY for http", () => {
  const s = { httpsProxy: "http://sp:3128", httpProxy: "proxy.local:8080", noProxy: "skip.io" };
  assert.equal(proxyFor(new URL("https://r.io/v2/"), s)?.href, "http://sp:3128/");
  assert.equal(proxyFor(new URL("http://r.io/v2/"), s)?.href, "http://proxy.local:8080/");
  assert.equal(proxyFor(new URL("https://skip.io/v2/"), s), undefined);
  assert.equal(proxyFor(new URL("https://r.io/v2/"), {}), undefined);
});

test("requests go through a CONNECT tunnel with Proxy-Authorization when a proxy is set", async () => {
  const reg = await startFakeRegistry();
  const connects: { target: string; auth: string | undefined }[] = [];
  const proxy = http.createServer((_req, res) => res.writeHead(405).end());
  const tunnels = new Set<net.Socket>();
  proxy.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    tunnels.add(client);
    connects.push({ target: req.url ?? "", auth: req.headers["proxy-authorization"] });
    // Whatever the name asked for, the "outside world" is the fake registry.
    const [host, port] = reg.host.split(":");
    const upstream = net.connect(Number(port), host, () => {
      tunnels.add(upstream);
      client.write("HTTP/1.1 200 Connection established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const proxyUrl = `http://pu:pp@127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  try {
    reg.pushImage("via/proxy", "1", { os: "linux", architecture: "amd64" });
    const c = new RegistryClient({
      insecure: () => true,
      retry: FAST_RETRY,
      proxy: { httpsProxy: proxyUrl, httpProxy: proxyUrl },
    });
    const m = await c.getManifest(parseReference("registry.far-away.test:5000/via/proxy:1"));
    assert.equal(m.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.ok(connects.length >= 1);
    assert.ok(connects.every((x) => x.target === "registry.far-away.test:5000"));
    assert.equal(connects[0]!.auth, `Basic ${Buffer.from("pu:pp").toString("base64")}`);
    c.close();
  } finally {
    for (const sock of tunnels) sock.destroy();
    proxy.closeAllConnections();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    await reg.close();
  }
});

/** A self-signed certificate for 127.0.0.1 made with openssl, or the reason there is none. */
function selfSigned(): { key: string; cert: string } | string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-tls-test-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { cwd: dir, stdio: "ignore" },
    );
    return {
      key: fs.readFileSync(path.join(dir, "key.pem"), "utf8"),
      cert: fs.readFileSync(path.join(dir, "cert.pem"), "utf8"),
    };
  } catch (err) {
    return `openssl could not make a test certificate: ${(err as Error).message}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("TLS: an unverifiable certificate is refused with advice; an insecure registry is spoken to anyway", async (t) => {
  const pair = selfSigned();
  if (typeof pair === "string") {
    t.skip(pair);
    return;
  }
  let seen = 0;
  const server = https.createServer(pair, (req, res) => {
    seen++;
    if (req.url === "/v2/") return void res.writeHead(200).end("{}");
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const secure = new RegistryClient({ retry: FAST_RETRY });
    await assert.rejects(secure.ping(host), (err: Error) => {
      assert.ok(err instanceof RegistryError);
      assert.match(err.message, new RegExp(`cannot verify the TLS certificate of ${host}`));
      assert.match(err.message, /NODE_EXTRA_CA_CERTS/);
      assert.match(err.message, new RegExp(`BURROW_INSECURE_REGISTRIES=${host}`));
      return true;
    });
    assert.equal(seen, 0);
    const insecure = new RegistryClient({ retry: FAST_RETRY, insecure: (r) => r === host });
    assert.deepEqual(await insecure.ping(host), { scheme: "https", authenticated: false });
    assert.equal(seen, 1);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
