import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatMirrorRule,
  mirrorRuleFor,
  parseMirrorUrl,
  parseMirrorsConfig,
  parseMirrorsEnv,
} from "../../../src/registry/mirrors.js";
import { InvalidArgumentError } from "../../../src/errors.js";

test("a mirror URL's scheme says http or https; a bare host is https", () => {
  assert.deepEqual(parseMirrorUrl("http://127.0.0.1:5000"), {
    url: "http://127.0.0.1:5000",
    scheme: "http",
    host: "127.0.0.1:5000",
    namespace: "",
  });
  assert.deepEqual(parseMirrorUrl("mirror.example.org/"), {
    url: "https://mirror.example.org",
    scheme: "https",
    host: "mirror.example.org",
    namespace: "",
  });
  assert.equal(parseMirrorUrl("HTTPS://Mirror.Example.org:443").host, "mirror.example.org");
});

test("the path of a mirror URL is a repository namespace, as registries.conf's location", () => {
  const m = parseMirrorUrl("https://harbor.site/hub-proxy/");
  assert.equal(m.host, "harbor.site");
  assert.equal(m.namespace, "hub-proxy");
  assert.equal(parseMirrorUrl("https://h/a/b.c").namespace, "a/b.c");
});

test("mirror URLs with credentials, a query, a fragment, another scheme or a bad namespace are refused", () => {
  for (const [input, words] of [
    ["ftp://m", /unsupported scheme "ftp"/],
    ["https://u:p@m", /credentials in the URL .*burrow login m/],
    ["https://m?x=1", /query/],
    ["https://m#x", /fragment/],
    ["https://m/Upper", /namespace "Upper"/],
    ["", /empty/],
  ] as const) {
    assert.throws(
      () => parseMirrorUrl(input),
      (e: unknown) => e instanceof InvalidArgumentError && words.test((e as Error).message),
      input,
    );
  }
});

test("BURROW_REGISTRY_MIRRORS: REGISTRY=URL[,URL...] entries separated by ; or white space, in order", () => {
  const rules = parseMirrorsEnv("docker.io=http://127.0.0.1:5000;quay.io=https://m1,https://m2  ghcr.io=m3");
  assert.deepEqual(
    rules.map((r) => [r.registry, r.mirrors.map((m) => m.url), r.fallback]),
    [
      ["docker.io", ["http://127.0.0.1:5000"], true],
      ["quay.io", ["https://m1", "https://m2"], true],
      ["ghcr.io", ["https://m3"], true],
    ],
  );
});

test("BURROW_REGISTRY_MIRRORS: bare URLs are for docker.io, as Docker's registry-mirrors", () => {
  const rules = parseMirrorsEnv("https://mirror.gcr.io,http://10.0.0.2:5000");
  assert.equal(rules.length, 1);
  assert.equal(rules[0]!.registry, "docker.io");
  assert.deepEqual(
    rules[0]!.mirrors.map((m) => m.url),
    ["https://mirror.gcr.io", "http://10.0.0.2:5000"],
  );
});

test("BURROW_REGISTRY_MIRRORS: Docker Hub's aliases name docker.io; a registry named twice joins its lists", () => {
  const rules = parseMirrorsEnv("index.docker.io=https://a registry-1.docker.io=https://b");
  assert.deepEqual(
    rules.map((r) => [r.registry, r.mirrors.map((m) => m.host)]),
    [["docker.io", ["a", "b"]]],
  );
  assert.equal(mirrorRuleFor(rules, "registry.hub.docker.com")?.registry, "docker.io");
  assert.equal(mirrorRuleFor(rules, "quay.io"), undefined);
});

test("BURROW_REGISTRY_MIRRORS: nofallback keeps the registry itself out", () => {
  const [rule] = parseMirrorsEnv("quay.io=https://m1,nofallback");
  assert.equal(rule!.fallback, false);
  assert.deepEqual(
    rule!.mirrors.map((m) => m.host),
    ["m1"],
  );
  assert.equal(formatMirrorRule(rule!), "quay.io=https://m1,nofallback");
});

test("BURROW_REGISTRY_MIRRORS: an empty value means no mirrors; mistakes are refused in one line", () => {
  assert.deepEqual(parseMirrorsEnv(""), []);
  assert.deepEqual(parseMirrorsEnv(" ; "), []);
  for (const [input, words] of [
    ["docker.io=", /names no mirror URL/],
    ["docker.io=nofallback", /names no mirror URL/],
    ["https://x/y=https://m", /mirrored registry .*host\[:port\]/],
    ["docker.io=ftp://m", /entry "docker.io=ftp:\/\/m": invalid mirror/],
  ] as const) {
    assert.throws(
      () => parseMirrorsEnv(input),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        words.test((e as Error).message) &&
        !(e as Error).message.includes("\n"),
      input,
    );
  }
});

test("config mirrors: a list per registry, or {urls, fallback}; a bare list is for docker.io", () => {
  const rules = parseMirrorsConfig({
    "docker.io": ["https://a", "http://b:5000"],
    "quay.io": { urls: ["https://q"], fallback: false },
  });
  assert.deepEqual(
    rules.map((r) => [r.registry, r.mirrors.map((m) => m.url), r.fallback]),
    [
      ["docker.io", ["https://a", "http://b:5000"], true],
      ["quay.io", ["https://q"], false],
    ],
  );
  assert.deepEqual(
    parseMirrorsConfig(["https://m"]).map((r) => r.registry),
    ["docker.io"],
  );
});

test("config mirrors: wrong shapes are refused saying which entry and what it must hold", () => {
  for (const [value, words] of [
    ["x", /must be an object from registry to mirror URLs/],
    [{ "docker.io": "https://a" }, /entry "docker.io" must be a list/],
    [{ "docker.io": [] }, /non-empty list/],
    [{ "docker.io": [1] }, /non-empty list/],
    [{ "quay.io": { urls: ["https://q"], fallback: "no" } }, /"fallback" must be true or false/],
    [{ "quay.io": { urls: ["https://q"], only: true } }, /unknown key "only"/],
    [{ "docker.io": ["ftp://a"] }, /entry "docker.io": invalid mirror "ftp:\/\/a"/],
    [{ "docker.io": ["https://a"], "index.docker.io": ["https://b"] }, /names docker.io again/],
  ] as const) {
    assert.throws(
      () => parseMirrorsConfig(value),
      (e: unknown) => e instanceof InvalidArgumentError && words.test((e as Error).message),
      JSON.stringify(value),
    );
  }
});
