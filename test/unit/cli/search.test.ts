// `burrow search`: the search endpoint, reading answers, docker's filters, truncation and table.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { parseSearchResults, searchEndpoint, searchHub } from "../../../src/search/hub.js";
import type { SearchResult } from "../../../src/search/hub.js";
import {
  applySearchFilter,
  parseSearchFilters,
  searchJson,
  searchTable,
  truncateDescription,
} from "../../../src/search/results.js";
import { InvalidArgumentError, RegistryError } from "../../../src/errors.js";

const FAST_RETRY = { tries: 3, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 10 };

test("searchEndpoint gives Docker Hub's v1 path to a bare origin or a /v1 URL", () => {
  assert.equal(
    searchEndpoint("https://index.docker.io", "alpine", 25).href,
    "https://index.docker.io/v1/search?q=alpine&n=25",
  );
  assert.equal(
    searchEndpoint("http://127.0.0.1:8080/v1/", "a b", 5).href,
    "http://127.0.0.1:8080/v1/search?q=a+b&n=5",
  );
  assert.equal(searchEndpoint("mirror.example", "x", 1).href, "https://mirror.example/v1/search?q=x&n=1");
});

test("searchEndpoint uses a URL with another path as the endpoint itself, and hub.docker.com's v2 API", () => {
  assert.equal(
    searchEndpoint("https://mirror.example/api/search?site=1", "go", 3).href,
    "https://mirror.example/api/search?site=1&q=go&n=3",
  );
  assert.equal(
    searchEndpoint("https://hub.docker.com", "go", 3).href,
    "https://hub.docker.com/v2/search/repositories/?query=go&page_size=3",
  );
});

test("searchEndpoint refuses URLs it cannot use, in one line", () => {
  assert.throws(
    () => searchEndpoint("ftp://x", "a", 1),
    /invalid search URL "ftp:\/\/x": use https:\/\/ or http:\/\//,
  );
  assert.throws(() => searchEndpoint("https://u:p@x", "a", 1), InvalidArgumentError);
  assert.throws(() => searchEndpoint("http://[bad", "a", 1), InvalidArgumentError);
});

test("parseSearchResults reads v1 and v2 answers and skips nameless entries", () => {
  const v1 = parseSearchResults(
    JSON.stringify({
      num_results: 2,
      results: [
        {
          name: "alpine",
          description: "A minimal image",
          star_count: 10,
          is_official: true,
          is_automated: false,
        },
        { name: "me/tool", description: null, star_count: "3", is_automated: true },
        { description: "no name" },
        "junk",
      ],
    }),
    "x",
  );
  assert.deepEqual(v1, [
    { name: "alpine", description: "A minimal image", stars: 10, official: true, automated: false },
    { name: "me/tool", description: "", stars: 0, official: false, automated: true },
  ]);
  const v2 = parseSearchResults(
    JSON.stringify({
      results: [{ repo_name: "golang", short_description: "Go", star_count: 5, is_official: true }],
    }),
    "x",
  );
  assert.deepEqual(v2, [{ name: "golang", description: "Go", stars: 5, official: true, automated: false }]);
});

test("parseSearchResults refuses answers that are not a search result", () => {
  assert.throws(
    () => parseSearchResults("<html>", "https://m"),
    /the search service at https:\/\/m sent an answer that is not JSON/,
  );
  assert.throws(() => parseSearchResults("{}", "https://m"), /without a "results" list/);
});

const RESULTS: SearchResult[] = [
  { name: "busybox", description: "Busybox base image.", stars: 3000, official: true, automated: false },
  { name: "me/busybox-curl", description: "Busybox with curl", stars: 15, official: false, automated: true },
  { name: "you/busybox", description: "", stars: 0, official: false, automated: false },
];

test("docker's filters: stars at least N, official, automated", () => {
  assert.deepEqual(
    applySearchFilter(RESULTS, parseSearchFilters(["stars=15"])).map((r) => r.name),
    ["busybox", "me/busybox-curl"],
  );
  assert.deepEqual(
    applySearchFilter(RESULTS, parseSearchFilters(["is-official=false", "is-automated=true"])).map(
      (r) => r.name,
    ),
    ["me/busybox-curl"],
  );
  assert.deepEqual(applySearchFilter(RESULTS, parseSearchFilters([])), RESULTS);
  assert.throws(
    () => parseSearchFilters(["stars=many"]),
    /invalid --filter "stars=many": stars takes a number/,
  );
  assert.throws(() => parseSearchFilters(["is-official=yes"]), /is-official takes true or false/);
  assert.throws(() => parseSearchFilters(["name=x"]), /use stars=N, is-official=true\|false or is-automated/);
});

test("truncateDescription cuts at 45 characters with an ellipsis, never inside a character", () => {
  const long = "Full-chain, Internet enabled, busybox made from scratch";
  assert.equal(truncateDescription(long), "Full-chain, Internet enabled, busybox made f…");
  assert.equal(Array.from(truncateDescription(long)).length, 45);
  const exact = "x".repeat(45);
  assert.equal(truncateDescription(exact), exact);
  assert.equal(truncateDescription("line one\nline\ttwo"), "line one line two");
  const emoji = "🐳".repeat(50);
  assert.equal(truncateDescription(emoji), `${"🐳".repeat(44)}…`);
  assert.equal(truncateDescription("word    and more", 6), "word…");
});

test("searchTable lays out NAME, DESCRIPTION, STARS, OFFICIAL as docker does", () => {
  const rows = [
    ...RESULTS,
    {
      name: "radial/busyboxplus",
      description: "Full-chain, Internet enabled, busybox made from scratch. Comes in git and cURL flavors.",
      stars: 39,
      official: false,
      automated: true,
    },
  ];
  assert.equal(
    searchTable(rows),
    [
      "NAME                 DESCRIPTION                                     STARS   OFFICIAL",
      "busybox              Busybox base image.                             3000    [OK]",
      "me/busybox-curl      Busybox with curl                               15",
      "you/busybox                                                          0",
      "radial/busyboxplus   Full-chain, Internet enabled, busybox made f…   39",
      "",
    ].join("\n"),
  );
  const full = searchTable(rows, true);
  assert.match(full, /Comes in git and cURL flavors\./);
  assert.equal(searchTable([]), "NAME   DESCRIPTION   STARS   OFFICIAL\n");
});

test("searchJson prints the full results as a list", () => {
  assert.deepEqual(JSON.parse(searchJson(RESULTS)), RESULTS);
});

/** A search service on loopback answering with `handler`; the requests' URLs are recorded. */
async function withSearchServer<T>(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, count: number) => void,
  run: (base: string, urls: string[]) => Promise<T>,
): Promise<T> {
  const urls: string[] = [];
  const server = http.createServer((req, res) => {
    urls.push(req.url ?? "");
    handler(req, res, urls.length);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, urls);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test("searchHub asks for n results, keeps at most that many, and retries a 503", async () => {
  const many = Array.from({ length: 10 }, (_, i) => ({ name: `r${i}`, description: "", star_count: i }));
  await withSearchServer(
    (_req, res, count) => {
      if (count === 1) return res.writeHead(503).end();
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ results: many }));
    },
    async (base, urls) => {
      const found = await searchHub({ baseUrl: base, term: "r", limit: 4, retry: FAST_RETRY });
      assert.deepEqual(
        found.map((r) => r.name),
        ["r0", "r1", "r2", "r3"],
      );
      assert.deepEqual(urls, ["/v1/search?q=r&n=4", "/v1/search?q=r&n=4"]);
    },
  );
});

test("searchHub follows a redirect", async () => {
  await withSearchServer(
    (req, res) => {
      if (req.url?.startsWith("/v1/")) return res.writeHead(301, { location: "/moved?q=a" }).end();
      res.writeHead(200).end(JSON.stringify({ results: [{ name: "a" }] }));
    },
    async (base, urls) => {
      const found = await searchHub({ baseUrl: base, term: "a", limit: 1, retry: FAST_RETRY });
      assert.equal(found[0]?.name, "a");
      assert.equal(urls[1], "/moved?q=a");
    },
  );
});

test("searchHub says in one line what went wrong", async () => {
  await withSearchServer(
    (_req, res) => res.writeHead(404).end("nothing here"),
    async (base) => {
      await assert.rejects(
        searchHub({ baseUrl: base, term: "a", limit: 1, retry: FAST_RETRY }),
        (err: Error) =>
          err instanceof RegistryError &&
          err.message === `${base} has no search service (HTTP 404); check --index or BURROW_SEARCH_URL`,
      );
    },
  );
  const closed = await withSearchServer(
    () => undefined,
    async (base) => base,
  );
  await assert.rejects(
    searchHub({ baseUrl: closed, term: "a", limit: 1, retry: FAST_RETRY }),
    (err: Error) =>
      err instanceof RegistryError &&
      err.message ===
        `cannot reach ${closed.slice("http://".length)}: ECONNREFUSED (connection refused); check the address`,
  );
});
