// Registry mirrors and offline mode as the test user: the harness's plain registry stands in for Docker Hub
// (BURROW_REGISTRY_MIRRORS, config `mirrors`), small loopback servers of this file's own are mirrors that
// are down, answer garbage or corrupt layers, or count what reaches them; `--offline` sends nothing.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { chownToTestUser, makeTestHome, runBurrow, testEnv } from "../harness/env.js";
import type { BurrowResult, BurrowRunOptions, TestHome } from "../harness/env.js";
import { pushImage, uniqueRepo } from "../harness/image-builder.js";
import {
  alpineLayer,
  burrowFails,
  hubMirrorEnv,
  ok,
  pushHubAlpine,
  show,
  DOCKER_PATH,
} from "../harness/suite.js";

const plain = (): string => testEnv().registries.plain.host;

/** A loopback HTTP server of the test's own; `requests` lists the paths that reached it. */
interface LocalServer {
  origin: string;
  host: string;
  requests: { path: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

/** Starts a server answering with `handle` (404 when it returns false), recording every request. */
async function startServer(
  handle: (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean> = () => false,
): Promise<LocalServer> {
  const requests: LocalServer["requests"] = [];
  const server = http.createServer((req, res) => {
    requests.push({ path: req.url ?? "", authorization: req.headers.authorization });
    void Promise.resolve(handle(req, res)).then((done) => {
      if (!done) res.writeHead(404, { "content-type": "application/json" }).end('{"errors":[]}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback address where nothing listens (a mirror that is down). */
async function deadOrigin(): Promise<string> {
  const s = await startServer();
  await s.close();
  return s.origin;
}

/**
 * Forwards every GET to the plain registry and hands the answer to `alter` (status, headers, body), which
 * may change it: a mirror that serves the real thing, or a corrupted copy of it.
 */
function proxyTo(
  upstream: string,
  alter: (path: string, status: number, body: Buffer) => { status: number; body: Buffer } = (
    _p,
    status,
    body,
  ) => ({
    status,
    body,
  }),
): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  return (req, res) =>
    new Promise((resolve) => {
      const out = http.get(
        `http://${upstream}${req.url ?? "/"}`,
        { headers: { accept: req.headers.accept ?? "*/*" } },
        (up) => {
          const chunks: Buffer[] = [];
          up.on("data", (c: Buffer) => chunks.push(c));
          up.on("end", () => {
            const changed = alter(req.url ?? "", up.statusCode ?? 502, Buffer.concat(chunks));
            const headers: http.OutgoingHttpHeaders = { "content-length": changed.body.length };
            if (up.headers["content-type"]) headers["content-type"] = up.headers["content-type"];
            if (up.headers["docker-content-digest"])
              headers["docker-content-digest"] = up.headers["docker-content-digest"];
            res.writeHead(changed.status, headers).end(changed.body);
            resolve(true);
          });
        },
      );
      out.on("error", () => {
        res.writeHead(502).end();
        resolve(true);
      });
    });
}

/** A `burrow` in `home` with `env`, without BURROW_INSECURE_REGISTRIES: an http:// mirror needs no --insecure. */
function burrowWith(
  home: TestHome,
  env: Record<string, string | undefined>,
): (args: string[], opts?: BurrowRunOptions) => Promise<BurrowResult> {
  return (args, opts = {}) => runBurrow(args, { home, ...opts, env: { ...env, ...(opts.env ?? {}) } });
}

/** Runs `fn` with a fresh test home, removed after. */
async function inHome(fn: (home: TestHome) => Promise<void>): Promise<void> {
  const home = await makeTestHome();
  try {
    await fn(home);
  } finally {
    await home.cleanup();
  }
}

let hubAlpine: Awaited<ReturnType<typeof pushHubAlpine>>;

before(async () => {
  hubAlpine = await pushHubAlpine();
});

test("a plain `burrow pull alpine` works through a mirror standing in for Docker Hub, and the image keeps its name", async () => {
  await inHome(async (home) => {
    const burrow = burrowWith(home, hubMirrorEnv());
    const pulled = ok(await burrow(["pull", "alpine"]));
    assert.match(pulled, new RegExp(`^Digest: ${hubAlpine.manifestDigest}$`, "m"));
    assert.match(pulled, /^docker\.io\/library\/alpine:latest$/m);
    const images = ok(await burrow(["images"]));
    assert.match(images, /^alpine\s+latest\s/m, images);
    assert.doesNotMatch(
      images,
      new RegExp(plain().replace(/[.]/g, "\\.")),
      "the mirror's host is no part of the name",
    );
    const listed = JSON.parse(ok(await burrow(["images", "--format", "json"]))) as { names: string[] }[];
    assert.deepEqual(
      listed.flatMap((i) => i.names),
      ["docker.io/library/alpine:latest"],
    );
    // The image runs, and `search --list-tags` goes through the mirror too.
    assert.equal(
      ok(await burrow(["run", "--rm", "alpine", "/bin/echo", "hello from the mirror"])),
      "hello from the mirror\n",
    );
    assert.match(ok(await burrow(["search", "--list-tags", "alpine"])), /^latest$/m);
    // udocker's form names Docker Hub by URL: its mirrors still apply.
    const viaArg = ok(await burrow(["pull", "--registry=https://registry-1.docker.io", "alpine"]));
    assert.match(viaArg, /^Status: Image is up to date for docker\.io\/library\/alpine:latest$/m);
    // A host named as an http:// mirror is plain HTTP when named itself too (no BURROW_INSECURE_REGISTRIES).
    assert.match(ok(await burrow(["search", "--list-tags", `${plain()}/library/alpine`])), /^latest$/m);
  });
});

test("mirrors are tried in order: a down one and a garbage one fall through with --debug lines, a corrupt layer is fetched again", async () => {
  const dead = await deadOrigin();
  // Answers manifests with bad JSON, everything else with HTTP 500.
  const garbage = await startServer((req, res) => {
    if (req.url === "/v2/") return (res.writeHead(200).end("{}"), true);
    if (req.url?.includes("/manifests/")) {
      res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" }).end("{not json");
      return true;
    }
    res.writeHead(500).end("broken");
    return true;
  });
  // Serves the real manifest and config, but the Alpine layer with every byte flipped.
  const corrupt = await startServer(
    proxyTo(plain(), (p, status, body) =>
      p.includes("/blobs/") && body.length > 65_536
        ? { status, body: Buffer.from(body.map((b) => b ^ 0xff)) }
        : { status, body },
    ),
  );
  try {
    await inHome(async (home) => {
      const mirrors = `docker.io=${dead},${garbage.origin};docker.io=${corrupt.origin},http://${plain()},nofallback`;
      const burrow = burrowWith(home, { BURROW_REGISTRY_MIRRORS: mirrors });
      const r = await burrow(["--debug", "pull", "alpine"]);
      assert.equal(r.code, 0, show(r));
      const lines = r.stderr.split("\n").filter((l) => / failed \(/.test(l));
      const at = (origin: string): number => lines.findIndex((l) => l.includes(`mirror ${origin} failed`));
      assert.ok(
        at(dead) >= 0 && at(dead) < at(garbage.origin),
        `down mirror first, then garbage:\n${r.stderr}`,
      );
      assert.match(lines[at(dead)]!, /connection refused/);
      assert.match(lines[at(garbage.origin)]!, /JSON|manifest/i);
      assert.ok(
        lines.some((l) => l.includes(`mirror ${corrupt.origin} failed`) && /digest/.test(l)),
        `the corrupt layer falls through:\n${r.stderr}`,
      );
      assert.ok(garbage.requests.length > 0 && corrupt.requests.some((q) => q.path.includes("/blobs/")));
      // Verified and complete: the stored layer is the real one, and the image runs.
      ok(await burrow(["verify", "alpine"]));
      assert.match(
        ok(await burrow(["run", "--rm", "alpine", "/bin/cat", "/etc/alpine-release"])),
        /^\d+\.\d+/,
      );
    });
  } finally {
    await garbage.close();
    await corrupt.close();
  }
});

test("when every mirror fails and the registry is not to be asked, one line names each, exit 1", async () => {
  const dead = await deadOrigin();
  const empty = await startServer((req, res) =>
    req.url === "/v2/" ? (res.writeHead(200).end("{}"), true) : false,
  );
  try {
    await inHome(async (home) => {
      const burrow = burrowWith(home, { BURROW_REGISTRY_MIRRORS: `${dead},${empty.origin},nofallback` });
      const r = await burrow(["pull", "alpine"]);
      burrowFails(r, /cannot fetch the manifest of docker\.io\/library\/alpine:latest: tried /);
      assert.match(r.stderr, new RegExp(`mirror ${dead}: cannot reach .*connection refused`));
      assert.match(r.stderr, new RegExp(`mirror ${empty.origin}: .*not found`));
      assert.match(r.stderr, /docker\.io itself is not asked: its mirrors say nofallback/);
      burrowFails(await burrow(["run", "--rm", "alpine", "true"]), /tried mirror/);
      assert.deepEqual(
        JSON.parse(ok(await burrow(["images", "--format", "json"]))),
        [],
        "nothing was stored",
      );
    });
  } finally {
    await empty.close();
  }
});

test("mirror only: the registry itself is never asked; a mirror URL's path is a namespace before the repository", async () => {
  const registry = await startServer();
  const ns = uniqueRepo("site-proxy");
  const repo = "team/tool";
  await pushImage("plain", `${ns}/${repo}`, "1", [await alpineLayer()], {
    config: { Cmd: ["/bin/sh"], Env: [`PATH=${DOCKER_PATH}`] },
  });
  try {
    await inHome(async (home) => {
      const burrow = burrowWith(home, {
        BURROW_REGISTRY_MIRRORS: `${registry.host}=http://${plain()}/${ns},nofallback`,
      });
      const name = `${registry.host}/${repo}:1`;
      ok(await burrow(["pull", name]));
      assert.deepEqual(registry.requests, [], "nothing reached the registry itself");
      const listed = JSON.parse(ok(await burrow(["images", "--format", "json"]))) as { names: string[] }[];
      assert.deepEqual(
        listed.flatMap((i) => i.names),
        [name],
      );
      assert.match(ok(await burrow(["search", "--list-tags", `${registry.host}/${repo}`])), /^1$/m);
      assert.deepEqual(registry.requests, []);
    });
  } finally {
    await registry.close();
  }
});

test("after its mirrors, the registry itself is asked unless told not to", async () => {
  const lacking = await startServer((req, res) =>
    req.url === "/v2/" ? (res.writeHead(200).end("{}"), true) : false,
  );
  const repo = uniqueRepo("fallback");
  const pushed = await pushImage("plain", repo, "1", [await alpineLayer()]);
  try {
    await inHome(async (home) => {
      const burrow = burrowWith(home, {
        BURROW_REGISTRY_MIRRORS: `${plain()}=${lacking.origin}`,
        BURROW_INSECURE_REGISTRIES: plain(),
      });
      const r = await burrow(["--debug", "pull", pushed.ref]);
      assert.equal(r.code, 0, show(r));
      assert.ok(
        lacking.requests.some((q) => q.path.includes(`/v2/${repo}/manifests/1`)),
        "the mirror was asked first",
      );
      assert.match(r.stderr, new RegExp(`mirror ${lacking.origin} failed .*; trying ${plain()}`));
    });
  } finally {
    await lacking.close();
  }
});

test("the config file's mirrors: {urls, fallback: false} and a bare list; a wrong entry is one line naming the file", async () => {
  await inHome(async (home) => {
    const confDir = path.join(home.dir, ".config", "burrow");
    fs.mkdirSync(confDir, { recursive: true });
    const conf = path.join(confDir, "config.json");
    const write = async (value: unknown): Promise<void> => {
      fs.writeFileSync(conf, JSON.stringify({ mirrors: value }));
      await chownToTestUser(path.join(home.dir, ".config"));
    };
    const burrow = burrowWith(home, {});
    await write({ "docker.io": { urls: [`http://${plain()}`], fallback: false } });
    ok(await burrow(["pull", "alpine"]));
    const shown = JSON.parse(ok(await burrow(["showconf", "--format", "json"]))) as Record<
      string,
      { value: unknown; source: string }
    >;
    assert.deepEqual(shown.mirrors, { value: [`docker.io=http://${plain()},nofallback`], source: "file" });
    ok(await burrow(["rmi", "alpine"]));
    await write([`http://${plain()}`]);
    ok(await burrow(["pull", "alpine:latest"]));
    // The environment replaces the file's mirrors.
    const envWins = await burrow(["showconf", "--format", "json"], {
      env: { BURROW_REGISTRY_MIRRORS: "quay.io=https://q.example" },
    });
    assert.deepEqual((JSON.parse(ok(envWins)) as Record<string, { value: unknown }>).mirrors!.value, [
      "quay.io=https://q.example",
    ]);
    await write({ "docker.io": "http://not-a-list" });
    burrowFails(
      await burrow(["pull", "alpine"]),
      new RegExp(
        `the config file ${conf.replace(/[.]/g, "\\.")} sets "mirrors" wrong: the entry "docker\\.io" must be a list`,
      ),
    );
    fs.rmSync(conf);
    burrowFails(
      await burrow(["images"], { env: { BURROW_REGISTRY_MIRRORS: "docker.io=ftp://m" } }),
      /BURROW_REGISTRY_MIRRORS entry "docker\.io=ftp:\/\/m": invalid mirror "ftp:\/\/m": unsupported scheme "ftp".*fix or unset BURROW_REGISTRY_MIRRORS/,
    );
  });
});

test("a mirror gets its own login; the registry's credentials are never sent to it", async () => {
  const { authUser, authPassword } = testEnv();
  const authHost = testEnv().registries.auth.host;
  await pushImage("auth", "library/alpine", "latest", [await alpineLayer()], {
    config: { Cmd: ["/bin/sh"], Env: [`PATH=${DOCKER_PATH}`] },
  });
  // A mirror that wants Basic credentials and records what it is sent.
  const asking = await startServer((req, res) => {
    res.writeHead(401, { "www-authenticate": 'Basic realm="mirror"' }).end();
    return true;
  });
  try {
    await inHome(async (home) => {
      // Docker Hub credentials in docker's config.json: they belong to docker.io, not to its mirrors.
      const hubSecret = Buffer.from("hub-user:hub-secret").toString("base64");
      fs.mkdirSync(path.join(home.dir, ".docker"));
      fs.writeFileSync(
        path.join(home.dir, ".docker", "config.json"),
        JSON.stringify({ auths: { "https://index.docker.io/v1/": { auth: hubSecret } } }),
      );
      await chownToTestUser(path.join(home.dir, ".docker"));
      const viaAsking = burrowWith(home, {
        BURROW_REGISTRY_MIRRORS: `docker.io=${asking.origin},nofallback`,
      });
      burrowFails(await viaAsking(["pull", "alpine"]), new RegExp(`burrow login ${asking.host}`));
      assert.ok(asking.requests.length > 0);
      assert.ok(
        asking.requests.every((q) => !(q.authorization ?? "").includes(hubSecret)),
        JSON.stringify(asking.requests),
      );

      const viaAuth = burrowWith(home, {
        BURROW_REGISTRY_MIRRORS: `docker.io=https://${authHost},nofallback`,
      });
      burrowFails(
        await viaAuth(["pull", "alpine"]),
        new RegExp(`burrow login ${authHost.replace(/[.]/g, "\\.")}`),
      );
      ok(await viaAuth(["login", "-u", authUser, "--password-stdin", authHost], { input: authPassword }));
      ok(await viaAuth(["pull", "alpine"]));
    });
  } finally {
    await asking.close();
  }
});

test("offline: nothing reaches any server; a missing image is one line (1 for pull, 125 for run); a stored one runs", async () => {
  const counting = await startServer(proxyTo(plain()));
  const filesServer = await startServer();
  try {
    await inHome(async (home) => {
      const burrow = burrowWith(home, { BURROW_REGISTRY_MIRRORS: `docker.io=${counting.origin}` });
      const offline =
        /no image "alpine" \(docker\.io\/library\/alpine:latest\) in the store, and burrow is offline/;
      burrowFails(await burrow(["--offline", "pull", "alpine"]), offline);
      burrowFails(await burrow(["pull", "alpine"], { env: { BURROW_OFFLINE: "1" } }), offline);
      burrowFails(await burrow(["run", "--rm", "alpine", "true"], { env: { BURROW_OFFLINE: "1" } }), offline);
      burrowFails(await burrow(["--offline", "run", "--rm", "alpine", "true"]), offline);
      burrowFails(await burrow(["--offline", "create", "--name", "c1", "alpine"]), offline);
      burrowFails(await burrow(["--offline", "search", "--list-tags", "alpine"]), /offline/);
      burrowFails(await burrow(["--offline", "search", "alpine"]), /offline/);
      // Names are not looked up either: an unresolvable host gives the offline line, not "no such host".
      const unresolvable = { BURROW_REGISTRY_MIRRORS: "docker.io=https://mirror.invalid" };
      for (const args of [
        ["search", "--list-tags", "registry.invalid/team/tool"],
        ["search", "--list-tags", "alpine"],
        ["login", "-u", "u", "--password-stdin", "registry.invalid"],
      ]) {
        const r = await burrow(["--offline", ...args], { env: unresolvable, input: "pw" });
        burrowFails(
          r,
          /burrow is offline \(--offline or BURROW_OFFLINE=1\) and will not contact [a-z.]+\.invalid/,
        );
      }
      // install: its binaries' host is served here, and would answer.
      const manifest = path.join(home.dir, "manifest.json");
      fs.writeFileSync(
        manifest,
        JSON.stringify({
          binaries: [
            {
              name: "proot",
              version: "1.0",
              platform: `linux-${process.arch}`,
              url: `${filesServer.origin}/proot`,
              sha256: "0".repeat(64),
            },
          ],
        }),
      );
      await chownToTestUser(manifest);
      burrowFails(
        await burrow(["--offline", "install"], { env: { BURROW_INSTALL_MANIFEST: manifest } }),
        /offline/,
      );
      assert.deepEqual(counting.requests, [], "no request reached the mirror");
      assert.deepEqual(filesServer.requests, [], "no request reached the download host");

      // Online once; then offline, the stored image is used and the network is not.
      ok(await burrow(["pull", "alpine"]));
      const before = counting.requests.length;
      assert.ok(before > 0);
      const again = ok(await burrow(["--offline", "pull", "alpine"]));
      assert.match(again, /offline: not checked with the registry/);
      assert.equal(
        ok(await burrow(["run", "--rm", "alpine", "/bin/echo", "offline"], { env: { BURROW_OFFLINE: "1" } })),
        "offline\n",
      );
      assert.equal(counting.requests.length, before, "offline runs send nothing");
    });
  } finally {
    await counting.close();
    await filesServer.close();
  }
});

test("install goes through the mirrors of its download host, each copy checked against the pinned sha256", async () => {
  const binary = fs.readFileSync("/usr/bin/proot");
  const sum = createHash("sha256").update(binary).digest("hex");
  const wrong = await startServer((req, res) => (res.writeHead(200).end(Buffer.from("not proot")), true));
  const good = await startServer((req, res) =>
    req.url === "/gh/proot-me/proot/releases/download/v9/proot-static"
      ? (res.writeHead(200, { "content-length": binary.length }).end(binary), true)
      : false,
  );
  try {
    await inHome(async (home) => {
      const manifest = path.join(home.dir, "manifest.json");
      fs.writeFileSync(
        manifest,
        JSON.stringify({
          base: "https://github.com/",
          binaries: [
            {
              name: "proot",
              version: "9",
              platform: `linux-${process.arch}`,
              url: "proot-me/proot/releases/download/v9/proot-static",
              sha256: sum,
            },
          ],
        }),
      );
      await chownToTestUser(manifest);
      const burrow = burrowWith(home, {
        BURROW_INSTALL_MANIFEST: manifest,
        BURROW_REGISTRY_MIRRORS: `github.com=${wrong.origin}/bad,${good.origin}/gh,nofallback`,
      });
      const r = await burrow(["--debug", "install"]);
      assert.equal(r.code, 0, show(r));
      assert.match(
        r.stdout,
        new RegExp(`proot 9 \\(linux-\\w+\\): installed .* from ${good.origin}/gh/proot-me/`),
      );
      assert.match(
        r.stderr,
        new RegExp(
          `${wrong.origin}/bad/proot-me/proot/releases/download/v9/proot-static failed \\(refusing proot 9`,
        ),
      );
      assert.deepEqual(
        wrong.requests.map((q) => q.path),
        ["/bad/proot-me/proot/releases/download/v9/proot-static"],
      );
      assert.equal(
        createHash("sha256")
          .update(fs.readFileSync(path.join(home.burrowDir, "bin", "proot")))
          .digest("hex"),
        sum,
      );
    });
  } finally {
    await wrong.close();
    await good.close();
  }
});
