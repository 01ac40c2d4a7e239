// The pure parts of push's upload protocol: where an upload goes on, chunk ranges and plans, mount sources.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chunkPlan, chunkRange, uploadUrl } from "../../../src/registry/upload.js";
import { mountSource } from "../../../src/push.js";
import { Reference } from "../../../src/registry/reference.js";

test("an upload's Location resolves against the request and takes the digest", () => {
  const base = new URL("https://r.example:5000/v2/a/blobs/uploads/");
  const u = uploadUrl("/v2/a/blobs/uploads/123?_state=xy", base, { digest: "sha256:ab" });
  assert.equal(u.href, "https://r.example:5000/v2/a/blobs/uploads/123?_state=xy&digest=sha256%3Aab");
  assert.equal(uploadUrl("http://other:1/up/9", base).href, "http://other:1/up/9");
});

test("blobs up to the threshold go in one PUT; larger ones in chunks with inclusive ranges", () => {
  assert.deepEqual(chunkPlan(10, 10, 4), [[0, 10]]);
  assert.deepEqual(chunkPlan(11, 10, 4), [
    [0, 4],
    [4, 4],
    [8, 3],
  ]);
  assert.deepEqual(chunkPlan(0), [[0, 0]]);
  assert.equal(chunkRange(0, 4), "0-3");
  assert.equal(chunkRange(8, 3), "8-10");
});

test("blobs are mounted only from another repository of the same registry", () => {
  const dest = new Reference("r.example:5000", "team/b", "1");
  assert.equal(mountSource("r.example:5000/team/a", dest), "team/a");
  assert.equal(mountSource("r.example:5000/team/b", dest), undefined);
  assert.equal(mountSource("other.example/team/a", dest), undefined);
  assert.equal(mountSource(undefined, dest), undefined);
});
