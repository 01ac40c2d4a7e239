// burrow install as the unprivileged test user, against a manifest and binaries served by a local HTTP server
// (Debian's /usr/bin/proot and /usr/sbin/runc stand in for the static builds the real manifest pins).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { asTestUser, makeTestHome, runBurrow } from "../harness/env.js";
import type { BurrowResult, TestHome } from "../harness/env.js";
import { engineNames } from "../../src/engine-registry.js";

const PLATFORM = `linux-${process.arch}`;
const STAND_INS = { proot: "/usr/bin/proot", runc: "/usr/sbin/runc" } as const;

let server: http.Server;
let origin = "";
/** URL path -> file served; every request is recorded. */
const served = new Map<string, Buffer>();
const requests: string[] = [];
const sums: Record<string, string> = {};

before(async () => {
  for (const [name, file] of Object.entries(STAND_INS)) {
    assert.ok(
      fs.existsSync(file),
      `${file} is missing: install Debian's ${name} package (the test serves it)`,
    );
    const body = fs.readFileSync(file);
    sums[name] = createHash("sha256").update(body).digest("hex");
    served.set(`/bin/${name}`, body);
    served.set(`/mirror/${name}-1.0-${PLATFORM}`, body);
  }
  server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    const body = served.get(req.url ?? "");
    if (body === undefined) res.writeHead(404).end("not here");
    else res.writeHead(200, { "content-length": body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

/** Serves a manifest at /NAME.json pinning each stand-in (with `pins` overriding checksums); returns its URL. */
function manifest(name: string, pins: Record<string, string> = {}): string {
  const binaries = Object.keys(STAND_INS).map((bin) => ({
    name: bin,
    version: "1.0",
    platform: PLATFORM,
    url: `bin/${bin}`,
    sha256: pins[bin] ?? sums[bin],
  }));
  served.set(`/${name}.json`, Buffer.from(JSON.stringify({ binaries })));
  return `${origin}/${name}.json`;
}

async function install(home: TestHome, args: string[], env: Record<string, string>): Promise<BurrowResult> {
  return runBurrow(["install", ...args], { home, env });
}

/** The store's bin/ listing (hidden temporary files included). */
function binListing(home: TestHome): string[] {
  const dir = path.join(home.burrowDir, "bin");
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

describe("burrow install", () => {
  test("a good checksum installs each binary into the store's bin/, mode 0755, and it runs", async () => {
    const home = await makeTestHome();
    const r = await install(home, [], { BURROW_INSTALL_MANIFEST: manifest("good") });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^proot 1\.0 \(linux-\w+\): installed .*\/bin\/proot from http:/m);
    assert.match(r.stdout, /^runc 1\.0 \(linux-\w+\): installed .*\/bin\/runc from http:/m);
    assert.deepEqual(binListing(home), ["proot", "runc"]);
    for (const name of ["proot", "runc"]) {
      const file = path.join(home.burrowDir, "bin", name);
      assert.equal(fs.statSync(file).mode & 0o777, 0o755);
      const argv = asTestUser([file, "--version"]);
      const out = execFileSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
      assert.match(out, name === "runc" ? /runc version/ : /PRoot|proot/i);
    }
    await home.cleanup();
  });

  test("an installed binary with the pinned checksum is skipped; --force downloads it again", async () => {
    const home = await makeTestHome();
    const env = { BURROW_INSTALL_MANIFEST: manifest("again") };
    assert.equal((await install(home, [], env)).code, 0);
    requests.length = 0;
    const again = await install(home, [], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /runc 1\.0 .*already installed .* skipped/);
    assert.deepEqual(requests, ["/again.json"]);
    const forced = await install(home, ["--force", "runc"], env);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /^runc 1\.0 .*: replaced /m);
    assert.deepEqual(requests.slice(1), ["/again.json", "/bin/runc"]);
    await home.cleanup();
  });

  test("a bad checksum refuses with exit 1, one line, leaves nothing behind and keeps what was there", async () => {
    const home = await makeTestHome();
    const bad = "0".repeat(64);
    const r = await install(home, ["proot"], { BURROW_INSTALL_MANIFEST: manifest("bad", { proot: bad }) });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^burrow: refusing proot 1\.0 from http:\S+\/bin\/proot: its sha256 is [a-f0-9]{64}, the manifest pins 0{64}; nothing was installed\n$/,
    );
    assert.deepEqual(binListing(home), []);
    // A good runc first, then a bad one: the good one stays, byte for byte.
    assert.equal((await install(home, ["runc"], { BURROW_INSTALL_MANIFEST: manifest("good2") })).code, 0);
    const before = fs.readFileSync(path.join(home.burrowDir, "bin", "runc"));
    const r2 = await install(home, ["--force", "runc"], {
      BURROW_INSTALL_MANIFEST: manifest("bad2", { runc: bad }),
    });
    assert.equal(r2.code, 1);
    assert.deepEqual(binListing(home), ["runc"]);
    assert.ok(fs.readFileSync(path.join(home.burrowDir, "bin", "runc")).equals(before));
    await home.cleanup();
  });

  test("BURROW_INSTALL_URL fetches <mirror>/<name>-<version>-<platform>", async () => {
    const home = await makeTestHome();
    requests.length = 0;
    const r = await install(home, [], {
      BURROW_INSTALL_MANIFEST: manifest("mirrored"),
      BURROW_INSTALL_URL: `${origin}/mirror`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(requests, [
      "/mirrored.json",
      `/mirror/proot-1.0-${PLATFORM}`,
      `/mirror/runc-1.0-${PLATFORM}`,
    ]);
    assert.deepEqual(binListing(home), ["proot", "runc"]);
    await home.cleanup();
  });

  test("offline (a closed port) is one line naming the URL and BURROW_INSTALL_URL, exit 1", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const home = await makeTestHome();
    const r = await install(home, [], {
      BURROW_INSTALL_MANIFEST: manifest("offline"),
      BURROW_INSTALL_URL: `http://127.0.0.1:${port}/`,
    });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.split("\n").length, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^burrow: cannot download http://127\\.0\\.0\\.1:${port}/proot-1\\.0-${PLATFORM}: ECONNREFUSED \\(connection refused\\); .*BURROW_INSTALL_URL`,
      ),
    );
    assert.deepEqual(binListing(home), []);
    await home.cleanup();
  });

  const missing = ["proot", "runc"].filter((e) => !engineNames.includes(e));
  test(
    "burrow info shows the engines' binaries coming from the store's bin/",
    {
      skip:
        missing.length > 0
          ? `the ${missing.join(" and ")} engine(s) are not in src/engine-registry.ts's registry yet (issue 4)`
          : false,
    },
    async () => {
      const home = await makeTestHome();
      assert.equal((await install(home, [], { BURROW_INSTALL_MANIFEST: manifest("info") })).code, 0);
      const r = await runBurrow(["info", "--format", "json"], { home });
      assert.equal(r.code, 0, r.stderr);
      const info = JSON.parse(r.stdout) as { engines: { name: string; binary: string | null }[] };
      for (const name of ["proot", "runc"]) {
        const e = info.engines.find((x) => x.name === name);
        assert.equal(e?.binary, path.join(home.burrowDir, "bin", name), JSON.stringify(e));
      }
      await home.cleanup();
    },
  );
});
