// burrow search as the test user: --list-tags against the harness's docker-registry instances (pages,
// login, errors), and `search TERM` against a search service of this test's own on loopback.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { testEnv, runBurrow, makeTestHome } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { layerFromEntries, pushImage, pushRawManifest, uniqueRepo } from "../harness/image-builder.js";

let home: TestHome;
const env = () => testEnv();

before(async () => {
  home = await makeTestHome();
});
after(async () => {
  await home.cleanup();
});

function burrow(args: string[], opts: Parameters<typeof runBurrow>[1] = {}) {
  return runBurrow(args, { home, ...opts });
}

/** Asserts a failure the way a user sees it: exit 1 (search is not run or exec) and one line on stderr matching `pattern`. */
function assertOneLineFailure(r: { code: number | null; stdout: string; stderr: string }, pattern: RegExp) {
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.equal(r.stdout, "");
}

/** Runs `work` on `items` with at most `width` at a time. */
async function inParallel<T>(items: T[], width: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** Pushes one small image to `registry` under every tag in `tags` (one manifest PUT per extra tag). */
async function pushTags(registry: "plain" | "auth" | "token", repo: string, tags: string[]): Promise<void> {
  const pushed = await pushImage(registry, repo, tags[0]!, [
    await layerFromEntries([{ path: "hello", type: "file", content: "tags\n" }]),
  ]);
  await inParallel(tags.slice(1), 12, (tag) =>
    pushRawManifest(registry, repo, tag, pushed.manifest, pushed.manifestMediaType),
  );
}

const MANY_TAGS = Array.from({ length: 120 }, (_, i) => `1.${String(i).padStart(3, "0")}`);
let manyRepo: string;

before(async () => {
  manyRepo = uniqueRepo("tags");
  await pushTags("plain", manyRepo, MANY_TAGS);
});

/**
 * docker-registry 2.8 (Debian 12's) ignores `n` on tags/list and sends every tag in one answer, in the
 * order its storage lists them. Registries that page (distribution 3, Harbor, Docker Hub, GHCR) are stood
 * in for by this front on the real registry: it pages the real tag list as the distribution spec says
 * (lexical order, `n` after `last`, a `Link: <...>; rel="next"` header) and forwards everything else.
 */
interface PagingFront {
  host: string;
  /** The query strings of the tags/list requests it answered. */
  pages: string[];
  close(): Promise<void>;
}

async function startPagingFront(upstream: string): Promise<PagingFront> {
  const [uhost, uport] = upstream.split(":");
  const pages: string[] = [];
  const forward = (method: string, path: string, headers: http.IncomingHttpHeaders) =>
    new Promise<http.IncomingMessage>((resolve, reject) => {
      const up = http.request(
        { host: uhost, port: Number(uport), method, path, headers: { ...headers, host: upstream } },
        resolve,
      );
      up.on("error", reject);
      up.end();
    });
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://x");
      const m = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
      const ures = await forward(req.method ?? "GET", m ? url.pathname : (req.url ?? "/"), req.headers);
      if (!m || ures.statusCode !== 200) {
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        ures.pipe(res);
        return;
      }
      pages.push(url.search);
      const chunks: Buffer[] = [];
      for await (const c of ures) chunks.push(c as Buffer);
      const all = (
        (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { tags: string[] }).tags ?? []
      ).sort();
      const last = url.searchParams.get("last");
      const from = last === null ? 0 : all.findIndex((t) => t > last);
      const n = Number(url.searchParams.get("n") ?? all.length);
      const page = from < 0 ? [] : all.slice(from, from + n);
      const headers: http.OutgoingHttpHeaders = { "content-type": "application/json" };
      if (from >= 0 && from + n < all.length) {
        const next = encodeURIComponent(page[page.length - 1]!);
        headers.link = `</v2/${m[1]}/tags/list?n=${n}&last=${next}>; rel="next"`;
      }
      res.writeHead(200, headers).end(JSON.stringify({ name: m[1], tags: page }));
    })().catch((err: Error) => res.writeHead(502).end(err.message));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    pages,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test("search --list-tags lists all 120 tags of a repository across pages of 50", async () => {
  const front = await startPagingFront(env().registries.plain.host);
  try {
    const name = `${front.host}/${manyRepo}`;
    const r = await burrow(["search", "--list-tags", "--insecure", "--page-size", "50", "--debug", name]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split("\n"), MANY_TAGS);
    assert.deepEqual(front.pages, ["?n=50", "?n=50&last=1.049", "?n=50&last=1.099"]);
    // --debug prints one line per request: the three pages.
    assert.equal(r.stderr.split("\n").filter((l) => /\/tags\/list.* -> 200$/.test(l)).length, 3, r.stderr);
    const json = await burrow([
      "search",
      "--tags",
      "--insecure",
      "--format",
      "json",
      "--page-size",
      "7",
      name,
    ]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { name, tags: MANY_TAGS });
    assert.equal(front.pages.length, 3 + Math.ceil(120 / 7));
  } finally {
    await front.close();
  }
});

test("search --list-tags on docker-registry 2.8 itself (one answer with every tag), as docker and udocker spell it", async () => {
  const host = env().registries.plain.host;
  const name = `${host}/${manyRepo}`;
  const opts = { env: { BURROW_INSECURE_REGISTRIES: host } };
  const plain = await burrow(["search", "--tags", `${name}:ignored`], opts);
  assert.equal(plain.code, 0, plain.stderr);
  assert.deepEqual(plain.stdout.trimEnd().split("\n").sort(), MANY_TAGS);
  const json = await burrow(["search", "--list-tags", "--format", "json", name], opts);
  assert.equal(json.code, 0, json.stderr);
  const list = JSON.parse(json.stdout) as { name: string; tags: string[] };
  assert.equal(list.name, name);
  assert.deepEqual([...list.tags].sort(), MANY_TAGS);
  // udocker's form: the registry as --registry=URL, the repository without it.
  const udocker = await burrow(["search", "--list-tags", `--registry=http://${host}`, manyRepo]);
  assert.equal(udocker.code, 0, udocker.stderr);
  assert.deepEqual(udocker.stdout.trimEnd().split("\n").sort(), MANY_TAGS);
});

test("search --list-tags of a missing repository fails in one line with exit 1", async () => {
  const host = env().registries.plain.host;
  const r = await burrow(["search", "--list-tags", "--insecure", `${host}/no-such-${uniqueRepo()}`]);
  assertOneLineFailure(r, /^burrow: repository .*no-such-.* not found$/);
});

for (const kind of ["auth", "token"] as const) {
  test(`search --list-tags on a registry with ${kind === "auth" ? "htpasswd (Basic)" : "Bearer tokens"} needs login first`, async () => {
    const { authUser, authPassword } = env();
    const registry = env().registries[kind].host;
    const repo = uniqueRepo("private-tags");
    await pushTags(kind, repo, ["a", "b", "c"]);
    const h = await makeTestHome();
    try {
      const denied = await burrow(["search", "--list-tags", `${registry}/${repo}`], { home: h });
      assertOneLineFailure(denied, /burrow login/);
      const login = await burrow(["login", "--username", authUser, "--password-stdin", registry], {
        home: h,
        input: authPassword + "\n",
      });
      assert.equal(login.code, 0, login.stderr);
      const r = await burrow(["search", "--list-tags", "--page-size", "2", `${registry}/${repo}`], {
        home: h,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trimEnd().split("\n").sort(), ["a", "b", "c"]);
      assert.ok(!(r.stdout + r.stderr).includes(authPassword));
    } finally {
      await h.cleanup();
    }
  });
}

test("search --list-tags of a public repository behind a token server needs no login", async () => {
  const registry = env().registries.token.host;
  const repo = `public/${uniqueRepo("open-tags")}`;
  await pushTags("token", repo, ["x", "y"]);
  const r = await burrow(["search", "--list-tags", `${registry}/${repo}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split("\n").sort(), ["x", "y"]);
});

test("search --list-tags on a host where nothing listens fails in one line with exit 1", async () => {
  const port = await closedPort();
  const r = await burrow(["search", "--list-tags", "--insecure", `127.0.0.1:${port}/x`]);
  assertOneLineFailure(r, /^burrow: cannot reach 127\.0\.0\.1:\d+: ECONNREFUSED/);
});

/** A port on loopback where nothing listens. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

// Docker Hub is not reachable from the test machines: this test's own server answers its v1 search API.
const HUB_RESULTS = [
  {
    name: "busybox",
    description: "Busybox base image.",
    star_count: 3210,
    is_official: true,
    is_automated: false,
  },
  {
    name: "radial/busyboxplus",
    description: "Full-chain, Internet enabled, busybox made from scratch. Comes in git and cURL flavors.",
    star_count: 39,
    is_official: false,
    is_automated: true,
  },
  { name: "me/busybox-curl", description: "Busybox with CURL", star_count: 15, is_official: false },
  { name: "you/busybox", description: "", star_count: 0, is_official: false },
];

interface SearchServer {
  url: string;
  queries: URLSearchParams[];
  close(): Promise<void>;
}

async function startSearchServer(): Promise<SearchServer> {
  const queries: URLSearchParams[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname !== "/v1/search") return res.writeHead(404).end("not found");
    queries.push(url.searchParams);
    const q = url.searchParams.get("q") ?? "";
    const n = Number(url.searchParams.get("n") ?? 25);
    const matching = HUB_RESULTS.filter((r) => r.name.includes(q) || r.description.toLowerCase().includes(q));
    const results = matching.slice(0, n);
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        num_pages: 1,
        num_results: matching.length,
        page_size: n,
        page: 1,
        query: q,
        results,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    queries,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let hub: SearchServer;
before(async () => {
  hub = await startSearchServer();
});
after(async () => {
  await hub.close();
});

test("search TERM prints docker's table from the search API named by BURROW_SEARCH_URL", async () => {
  const r = await burrow(["search", "busybox"], { env: { BURROW_SEARCH_URL: hub.url } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      "NAME                 DESCRIPTION                                     STARS   OFFICIAL",
      "busybox              Busybox base image.                             3210    [OK]",
      "radial/busyboxplus   Full-chain, Internet enabled, busybox made f…   39",
      "me/busybox-curl      Busybox with CURL                               15",
      "you/busybox                                                          0",
      "",
    ].join("\n"),
  );
  const last = hub.queries[hub.queries.length - 1]!;
  assert.equal(last.get("q"), "busybox");
  assert.equal(last.get("n"), "25");
});

test("search --no-trunc, --limit, --filter and --index", async () => {
  const full = await burrow(["search", "--no-trunc", "--index", hub.url, "busyboxplus"]);
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stdout, /radial\/busyboxplus {3}Full-chain, .* Comes in git and cURL flavors\. {3}39\n$/);
  const two = await burrow(["search", "--index", hub.url, "--limit", "2", "busybox"]);
  assert.equal(two.code, 0, two.stderr);
  assert.deepEqual(
    two.stdout
      .trimEnd()
      .split("\n")
      .map((l) => l.split(/\s+/)[0]),
    ["NAME", "busybox", "radial/busyboxplus"],
  );
  assert.equal(hub.queries[hub.queries.length - 1]!.get("n"), "2");
  const official = await burrow(["search", `--index=${hub.url}`, "--filter", "is-official=true", "busybox"]);
  assert.equal(official.code, 0, official.stderr);
  assert.equal(official.stdout.trimEnd().split("\n").length, 2);
  assert.match(official.stdout, /^busybox {2,}Busybox base image\./m);
});

test("search --format json prints every field in full", async () => {
  const r = await burrow(["search", "--format", "json", "--limit", "3", "busybox"], {
    env: { BURROW_SEARCH_URL: `${hub.url}/v1` },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [
    { name: "busybox", description: "Busybox base image.", stars: 3210, official: true, automated: false },
    {
      name: "radial/busyboxplus",
      description: HUB_RESULTS[1]!.description,
      stars: 39,
      official: false,
      automated: true,
    },
    {
      name: "me/busybox-curl",
      description: "Busybox with CURL",
      stars: 15,
      official: false,
      automated: false,
    },
  ]);
});

test("search mistakes and failures: one line, exit 1", async () => {
  const opts = { env: { BURROW_SEARCH_URL: hub.url } };
  assertOneLineFailure(
    await burrow(["search", "--limit", "101", "x"], opts),
    /invalid --limit "101": give a number from 1 to 100/,
  );
  assertOneLineFailure(await burrow(["search", "--format", "yaml", "x"], opts), /unknown --format "yaml"/);
  assertOneLineFailure(
    await burrow(["search", "--page-size", "5", "x"], opts),
    /--page-size goes with --list-tags/,
  );
  assertOneLineFailure(
    await burrow(["search", "--index", `${hub.url}/elsewhere`, "x"]),
    /has no search service \(HTTP 404\); check --index or BURROW_SEARCH_URL/,
  );
  const port = await closedPort();
  assertOneLineFailure(
    await burrow(["search", "x"], { env: { BURROW_SEARCH_URL: `http://127.0.0.1:${port}` } }),
    /^burrow: cannot reach 127\.0\.0\.1:\d+: ECONNREFUSED \(connection refused\); check the address$/,
  );
});
