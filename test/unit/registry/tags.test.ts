// Tag listing: the Link header's next page, page sizes, and paging through a registry's tags.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { RegistryClient, nextLink } from "../../../src/registry/client.js";
import { parseReference } from "../../../src/registry/reference.js";
import { listRepositoryTags, parsePageSize, uniqueTags } from "../../../src/registry/tags.js";
import { InvalidArgumentError, ManifestUnknownError } from "../../../src/errors.js";

test("nextLink reads a relative next link", () => {
  assert.equal(
    nextLink('</v2/team/app/tags/list?n=50&last=t049>; rel="next"'),
    "/v2/team/app/tags/list?n=50&last=t049",
  );
});

test("nextLink keeps only the path and query of an absolute link (the registry host stays ours)", () => {
  assert.equal(
    nextLink('<https://other.example:5000/v2/a/tags/list?last=x&n=2>; rel="next"'),
    "/v2/a/tags/list?last=x&n=2",
  );
});

test("nextLink picks rel=next among several links, quoted or not, any case", () => {
  assert.equal(
    nextLink('</v2/a/tags/list?n=2>; rel="prev", </v2/a/tags/list?last=b&n=2>; rel=next'),
    "/v2/a/tags/list?last=b&n=2",
  );
  assert.equal(nextLink('</v2/a/tags/list?last=b>; REL="Next"'), "/v2/a/tags/list?last=b");
});

test("nextLink finds nothing on the last page or in a broken header", () => {
  assert.equal(nextLink(undefined), undefined);
  assert.equal(nextLink(""), undefined);
  assert.equal(nextLink('</v2/a/tags/list?n=2>; rel="prev"'), undefined);
  assert.equal(nextLink("/v2/a/tags/list?last=b; rel=next"), undefined);
  assert.equal(nextLink('<http://[bad>; rel="next"'), undefined);
});

test("parsePageSize takes 1 to 10000 and refuses anything else in one line", () => {
  assert.equal(parsePageSize("50"), 50);
  assert.equal(parsePageSize(" 1 "), 1);
  assert.equal(parsePageSize("10000"), 10000);
  for (const bad of ["0", "-1", "10001", "2.5", "ten", "", "1e3"]) {
    assert.throws(() => parsePageSize(bad), InvalidArgumentError, bad);
  }
  assert.throws(() => parsePageSize("0"), /invalid --page-size "0": give a number of tags from 1 to 10000/);
});

test("uniqueTags keeps the first of each tag in order", () => {
  assert.deepEqual(uniqueTags(["a", "b", "b", "c", "a"]), ["a", "b", "c"]);
});

/** A registry answering only the tags API: `tags` in pages of `n`, the last tag of a page repeated on the next. */
async function withTagServer<T>(
  tags: string[],
  run: (host: string, pages: string[]) => Promise<T>,
): Promise<T> {
  const pages: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/v2/") return res.writeHead(200).end("{}");
    if (url.pathname === "/v2/missing/tags/list") {
      return res
        .writeHead(404, { "content-type": "application/json" })
        .end('{"errors":[{"code":"NAME_UNKNOWN"}]}');
    }
    if (url.pathname !== "/v2/team/app/tags/list") return res.writeHead(404).end();
    pages.push(url.search);
    const n = Number(url.searchParams.get("n") ?? tags.length);
    const last = url.searchParams.get("last");
    // Overlapping pages: a page starts at `last` itself, as some registries do.
    const from = last === null ? 0 : tags.indexOf(last);
    const page = tags.slice(from, from + n);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (from + n < tags.length) {
      headers.link = `<http://${req.headers.host}/v2/team/app/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"`;
    }
    res.writeHead(200, headers).end(JSON.stringify({ name: "team/app", tags: page }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await run(`127.0.0.1:${(server.address() as AddressInfo).port}`, pages);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test("listRepositoryTags follows every page and lists each tag once", async () => {
  const tags = Array.from({ length: 12 }, (_, i) => `v${String(i).padStart(2, "0")}`);
  await withTagServer(tags, async (host, pages) => {
    const client = new RegistryClient({ insecure: () => true });
    try {
      const list = await listRepositoryTags(client, parseReference(`${host}/team/app:ignored`), 5);
      assert.deepEqual(list, { name: `${host}/team/app`, tags });
      assert.equal(pages[0], "?n=5");
      assert.ok(pages.length >= 3, `${pages.length} pages`);
    } finally {
      client.close();
    }
  });
});

test("listRepositoryTags says an unknown repository is not found", async () => {
  await withTagServer([], async (host) => {
    const client = new RegistryClient({ insecure: () => true });
    try {
      await assert.rejects(
        listRepositoryTags(client, parseReference(`${host}/missing`)),
        (err: Error) =>
          err instanceof ManifestUnknownError && err.message === `repository ${host}/missing not found`,
      );
    } finally {
      client.close();
    }
  });
});
