// Reference parsing as docker does it: defaults, registries, tags, digests, and the errors for bad ones.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseReference, parseRegistryArg, registryApiHost } from "../../../src/registry/reference.js";
import { InvalidArgumentError, InvalidReferenceError } from "../../../src/errors.js";

const D = "sha256:" + "a".repeat(64);

const good: [string, string, string, string | undefined, string | undefined, string][] = [
  // input, registry, repository, tag, digest, familiar name
  ["alpine", "docker.io", "library/alpine", "latest", undefined, "alpine"],
  ["alpine:3.19", "docker.io", "library/alpine", "3.19", undefined, "alpine"],
  ["user/img", "docker.io", "user/img", "latest", undefined, "user/img"],
  ["docker.io/alpine", "docker.io", "library/alpine", "latest", undefined, "alpine"],
  ["index.docker.io/library/alpine:edge", "docker.io", "library/alpine", "edge", undefined, "alpine"],
  ["host:5000/repo:tag", "host:5000", "repo", "tag", undefined, "host:5000/repo"],
  ["localhost/x", "localhost", "x", "latest", undefined, "localhost/x"],
  ["localhost:5000/a/b/c", "localhost:5000", "a/b/c", "latest", undefined, "localhost:5000/a/b/c"],
  [
    "reg.example.org/team/tool:1.2_rc-1",
    "reg.example.org",
    "team/tool",
    "1.2_rc-1",
    undefined,
    "reg.example.org/team/tool",
  ],
  [`repo@${D}`, "docker.io", "library/repo", undefined, D, "repo"],
  [`repo:tag@${D}`, "docker.io", "library/repo", "tag", D, "repo"],
  [`quay.io/a/b@${D}`, "quay.io", "a/b", undefined, D, "quay.io/a/b"],
  ["a__b/c-d.e_f", "docker.io", "a__b/c-d.e_f", "latest", undefined, "a__b/c-d.e_f"],
  ["a---b", "docker.io", "library/a---b", "latest", undefined, "a---b"],
  ["[::1]:5000/img", "[::1]:5000", "img", "latest", undefined, "[::1]:5000/img"],
  ["Foo.Example.com/img", "foo.example.com", "img", "latest", undefined, "foo.example.com/img"],
  ["img:" + "t".repeat(128), "docker.io", "library/img", "t".repeat(128), undefined, "img"],
];

for (const [input, registry, repository, tag, digest, familiar] of good) {
  test(`parses "${input.length > 60 ? input.slice(0, 60) + "…" : input}"`, () => {
    const r = parseReference(input);
    assert.equal(r.registry, registry);
    assert.equal(r.repository, repository);
    assert.equal(r.tag, tag);
    assert.equal(r.digest, digest);
    assert.equal(r.familiarName, familiar);
  });
}

test("toString is canonical and familiar strings are short", () => {
  assert.equal(parseReference("alpine").toString(), "docker.io/library/alpine:latest");
  assert.equal(parseReference("alpine").toFamiliarString(), "alpine:latest");
  assert.equal(parseReference(`h:1/r:t@${D}`).toString(), `h:1/r:t@${D}`);
  assert.equal(parseReference(`r@${D}`).manifestRef, D);
  assert.equal(parseReference("r:t").manifestRef, "t");
});

test("the API host of Docker Hub is registry-1.docker.io", () => {
  assert.equal(parseReference("alpine").apiHost, "registry-1.docker.io");
  assert.equal(registryApiHost("index.docker.io"), "registry-1.docker.io");
  assert.equal(parseReference("h:5000/x").apiHost, "h:5000");
});

test("a default registry applies to names without one, without the library/ prefix", () => {
  const r = parseReference("tool:1", { defaultRegistry: "reg.example.org:5000" });
  assert.equal(r.toString(), "reg.example.org:5000/tool:1");
  assert.equal(parseReference("other.io/x", { defaultRegistry: "reg.example.org" }).registry, "other.io");
});

const bad: [string, RegExp][] = [
  ["", /it is empty/],
  ["Alpine", /^invalid reference "Alpine": repository names must be lowercase$/],
  ["user/Img", /must be lowercase/],
  ["alpine:", /bad tag ""/],
  ["alpine:.x", /bad tag "\.x"/],
  ["alpine:" + "t".repeat(129), /at most 128 characters/],
  ["alpine@sha256:abc", /bad digest "sha256:abc": a sha256 digest has exactly 64 lowercase hex digits/],
  [`alpine@md5:${"a".repeat(32)}`, /unsupported digest algorithm "md5"/],
  ["alpine@", /bad digest/],
  ["-alpine", /bad repository name component "-alpine"/],
  ["a//b", /empty path component/],
  ["host:5000/", /repository name is missing/],
  ["a b", /white space/],
  ["ex_ample.com/x", /bad registry "ex_ample.com"/],
  ["x/" + "a".repeat(250), /longer than 255 characters/],
  [":tag", /repository name is missing/],
];

for (const [input, message] of bad) {
  test(`refuses "${input.length > 40 ? input.slice(0, 40) + "…" : input}"`, () => {
    assert.throws(
      () => parseReference(input),
      (err: Error) => {
        assert.ok(err instanceof InvalidReferenceError);
        assert.match(err.message, message);
        assert.ok(err.message.startsWith(`invalid reference "${input}": `));
        return true;
      },
    );
  });
}

test("parseRegistryArg accepts URLs and host[:port]", () => {
  assert.deepEqual(parseRegistryArg("https://reg.example.org:5000"), {
    registry: "reg.example.org:5000",
    scheme: "https",
  });
  assert.deepEqual(parseRegistryArg("http://localhost:5000/"), {
    registry: "localhost:5000",
    scheme: "http",
  });
  assert.deepEqual(parseRegistryArg("reg.example.org:5000"), { registry: "reg.example.org:5000" });
  assert.deepEqual(parseRegistryArg("https://index.docker.io/v1/"), {
    registry: "docker.io",
    scheme: "https",
  });
  assert.deepEqual(parseRegistryArg("registry-1.docker.io"), { registry: "docker.io" });
  assert.deepEqual(parseRegistryArg("https://reg.example.org/v2/"), {
    registry: "reg.example.org",
    scheme: "https",
  });
});

test("parseRegistryArg refuses what is not a registry", () => {
  for (const [input, why] of [
    ["ftp://x", /unsupported scheme "ftp"/],
    ["https://x/some/path", /without a path/],
    ["https://user:pw@x", /credentials in the URL/],
    ["", /host is missing/],
    ["x:99999", /port is out of range/],
    ["bad host", /expected host\[:port\]/],
  ] as const) {
    assert.throws(
      () => parseRegistryArg(input),
      (err: Error) => err instanceof InvalidArgumentError && why.test(err.message),
      input,
    );
  }
});
