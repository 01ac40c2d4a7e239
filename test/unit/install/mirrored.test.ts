import { test } from "node:test";
import assert from "node:assert/strict";
import { mirroredUrls } from "../../../src/install/mirrored.js";
import { parseMirrorsEnv } from "../../../src/registry/mirrors.js";

const url = new URL("https://github.com/proot-me/proot/releases/download/v5.3.0/proot-static?x=1");

test("a download URL is tried at each mirror of its host (its path under the mirror's), then itself", () => {
  const rules = parseMirrorsEnv("github.com=https://m.site/gh,http://10.0.0.2:8080 docker.io=https://hub");
  assert.deepEqual(
    mirroredUrls(url, rules).map((u) => u.href),
    [
      "https://m.site/gh/proot-me/proot/releases/download/v5.3.0/proot-static?x=1",
      "http://10.0.0.2:8080/proot-me/proot/releases/download/v5.3.0/proot-static?x=1",
      url.href,
    ],
  );
});

test("nofallback leaves the host itself out; a host without mirrors is asked alone", () => {
  const rules = parseMirrorsEnv("github.com=https://m.site,nofallback");
  assert.deepEqual(
    mirroredUrls(url, rules).map((u) => u.href),
    ["https://m.site/proot-me/proot/releases/download/v5.3.0/proot-static?x=1"],
  );
  const other = new URL("https://downloads.example.org/runc");
  assert.deepEqual(mirroredUrls(other, rules), [other]);
  assert.deepEqual(mirroredUrls(url, []), [url]);
});
