// burrow pull against real docker-registry instances: TLS with a test CA, plain HTTP, htpasswd, token auth.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";
import { execFileSync } from "node:child_process";
import { testEnv, runBurrow, makeTestHome } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import {
  layerFromTarball,
  layerFromEntries,
  pushImage,
  pushIndex,
  uniqueRepo,
  imageRef,
} from "../harness/image-builder.js";
import { burrowIn } from "../harness/suite.js";
import { describeTree, treeMap } from "./tree.js";
import { startFaultProxy } from "./fault-proxy.js";

let home: TestHome;
const env = () => testEnv();

before(async () => {
  home = await makeTestHome();
});
after(async () => {
  await home.cleanup();
});

/** Runs burrow with the plain-HTTP registry marked insecure. */
const burrow = burrowIn(() => home);

async function rootfsOf(ref: string, opts: Parameters<typeof runBurrow>[1] = {}): Promise<string> {
  const r = await burrow(["inspect", "-p", ref], opts);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

test("pulls the Alpine image over TLS with the test CA and its rootfs equals the tarball", async () => {
  const layer = await layerFromTarball(env().alpine);
  const repo = uniqueRepo("alpine");
  const pushed = await pushImage("tls", repo, "3.20", [layer], {
    format: "docker",
    config: { Cmd: ["/bin/sh"], Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] },
  });
  const r = await burrow(["pull", pushed.ref]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Digest: ${pushed.manifestDigest}`));
  assert.equal(r.stderr, "", "no progress when stderr is not a terminal");
  const expected = fs.mkdtempSync(path.join(os.tmpdir(), "alpine-ref-"));
  execFileSync("tar", ["-xzf", env().alpine, "-C", expected, "--no-same-owner"]);
  const got = describeTree(await rootfsOf(pushed.ref));
  assert.deepEqual(got, describeTree(expected));
  assert.ok(got.includes("bin/busybox file " + treeMap(expected).get("bin/busybox")!.split(" ")[2]));
  fs.rmSync(expected, { recursive: true, force: true });

  const images = await burrow(["images"]);
  assert.match(images.stdout, new RegExp(`${repo}\\s+3\\.20\\s+${pushed.configDigest.slice(7, 19)}`));
  const inspect = JSON.parse((await burrow(["inspect", pushed.ref])).stdout) as {
    Id: string;
    Config: { Cmd: string[] };
    Manifest: { layers: { digest: string }[] };
  }[];
  assert.equal(inspect[0]!.Id, pushed.configDigest);
  assert.deepEqual(inspect[0]!.Config.Cmd, ["/bin/sh"]);
  assert.equal(inspect[0]!.Manifest.layers[0]!.digest, layer.digest);
  const verify = await burrow(["verify", pushed.ref]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /OK/);
});

test("without the test CA a TLS registry is refused with a message naming the fixes", async () => {
  const repo = uniqueRepo("noca");
  const pushed = await pushImage("tls", repo, "1", [
    await layerFromEntries([{ path: "f", type: "file", content: "x" }]),
  ]);
  const r = await burrow(["pull", pushed.ref], { env: { NODE_EXTRA_CA_CERTS: undefined } });
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /NODE_EXTRA_CA_CERTS|--insecure/);
  const ok = await burrow(["pull", "--insecure", pushed.ref], { env: { NODE_EXTRA_CA_CERTS: undefined } });
  assert.equal(ok.code, 0, ok.stderr);
});

test("flattens a multi-layer image over plain HTTP applying whiteouts and an opaque directory", async () => {
  const l1 = await layerFromEntries([
    { path: "a/", type: "dir" },
    { path: "a/keep", type: "file", content: "keep" },
    { path: "a/gone", type: "file", content: "gone" },
    { path: "b/", type: "dir" },
    { path: "b/old", type: "file", content: "old" },
    { path: "b/sub/", type: "dir" },
    { path: "b/sub/deep", type: "file", content: "deep" },
    { path: "c/", type: "dir" },
    { path: "c/inner", type: "file", content: "inner" },
    { path: "top-gone", type: "file", content: "t" },
    { path: "d/e/f/", type: "dir" },
    { path: "d/e/f/x", type: "file", content: "x" },
    { path: "link", type: "symlink", linkname: "a/keep" },
  ]);
  const l2 = await layerFromEntries([
    { path: "a/.wh.gone", type: "file" },
    { path: ".wh.top-gone", type: "file" },
    { path: "b/", type: "dir" },
    { path: "b/.wh..wh..opq", type: "file" },
    { path: "b/new", type: "file", content: "new" },
    { path: ".wh.c", type: "file" },
    { path: "c", type: "file", content: "c is a file now" },
    { path: "d/e/f/.wh.x", type: "file" },
    { path: "d/e/f/y", type: "file", content: "y" },
  ]);
  const l3 = await layerFromEntries(
    [
      { path: "a/keep", type: "file", content: "keep v3" },
      { path: ".wh..wh..opq", type: "file" },
      { path: "a/", type: "dir" },
      { path: "b/", type: "dir" },
      { path: "b/new", type: "file", content: "new" },
      { path: "c", type: "file", content: "c is a file now" },
      { path: "d/e/f/", type: "dir" },
      { path: "d/e/f/y", type: "file", content: "y" },
    ],
    "none",
  );
  const repo = uniqueRepo("layers");
  const pushed2 = await pushImage("plain", repo, "two", [l1, l2]);
  const r = await burrow(["pull", pushed2.ref]);
  assert.equal(r.code, 0, r.stderr);
  const t = treeMap(await rootfsOf(pushed2.ref));
  assert.deepEqual([...t.keys()].sort(), [
    "a",
    "a/keep",
    "b",
    "b/new",
    "c",
    "d",
    "d/e",
    "d/e/f",
    "d/e/f/y",
    "link",
  ]);
  assert.match(t.get("c")!, / file /);
  assert.equal(t.get("link"), "link symlink a/keep");
  assert.ok(![...t.keys()].some((k) => k.includes(".wh.")), "no whiteout file remains");
  // An opaque marker at the layer root hides everything below, but keeps what the same layer adds.
  const pushed3 = await pushImage("plain", repo, "three", [l1, l2, l3]);
  const r3 = await burrow(["pull", pushed3.ref]);
  assert.equal(r3.code, 0, r3.stderr);
  const t3 = treeMap(await rootfsOf(pushed3.ref));
  assert.deepEqual([...t3.keys()].sort(), ["a", "a/keep", "b", "b/new", "c", "d", "d/e", "d/e/f", "d/e/f/y"]);
  const root3 = await rootfsOf(pushed3.ref);
  assert.equal(fs.readFileSync(path.join(root3, "a/keep"), "utf8"), "keep v3");
});

test("a second image that shares a layer downloads only what it lacks", async () => {
  const base = await layerFromEntries([{ path: "base", type: "file", content: "shared base ".repeat(5000) }]);
  const x = await layerFromEntries([{ path: "x", type: "file", content: "x" }]);
  const y = await layerFromEntries([{ path: "y", type: "file", content: "y" }]);
  const repo = uniqueRepo("share");
  await pushImage("plain", repo, "x", [base, x]);
  await pushImage("plain", repo, "y", [base, y]);
  const proxy = await startFaultProxy(env().registries.plain.host);
  try {
    const opts = { env: { BURROW_INSECURE_REGISTRIES: proxy.host } };
    assert.equal((await burrow(["pull", `${proxy.host}/${repo}:x`], opts)).code, 0);
    const r = await burrow(["pull", `${proxy.host}/${repo}:y`], opts);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(proxy.blobGets.get(base.digest), 1, "the shared layer was downloaded once");
    assert.equal(proxy.blobGets.get(y.digest), 1);
    const again = await burrow(["pull", `${proxy.host}/${repo}:y`], opts);
    assert.match(again.stdout, /Image is up to date/);
    assert.equal(proxy.blobGets.get(y.digest), 1);
  } finally {
    await proxy.close();
  }
});

test("pulls by digest and records the digest name", async () => {
  const repo = uniqueRepo("bydigest");
  const pushed = await pushImage("plain", repo, "t", [
    await layerFromEntries([{ path: "d", type: "file", content: "d" }]),
  ]);
  const ref = imageRef("plain", repo, pushed.manifestDigest);
  const r = await burrow(["pull", ref]);
  assert.equal(r.code, 0, r.stderr);
  const images = JSON.parse((await burrow(["images", "--format", "json"])).stdout) as { names: string[] }[];
  assert.ok(
    images.some((i) => i.names.includes(ref)),
    JSON.stringify(images),
  );
});

test("a private image behind htpasswd needs login; credentials are stored 0600 and never printed", async () => {
  const { authUser, authPassword } = env();
  const repo = uniqueRepo("private");
  const pushed = await pushImage("auth", repo, "1", [
    await layerFromEntries([{ path: "secret", type: "file", content: "s" }]),
  ]);
  const registry = env().registries.auth.host;
  const h = await makeTestHome();
  try {
    const denied = await burrow(["pull", pushed.ref], { home: h });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /burrow login/);
    const bad = await burrow(["login", "--username", authUser, "--password-stdin", registry], {
      home: h,
      input: "wrong\n",
    });
    assert.equal(bad.code, 1);
    assert.ok(
      !fs.existsSync(path.join(h.burrowDir, "credentials.json")) ||
        !fs.readFileSync(path.join(h.burrowDir, "credentials.json"), "utf8").includes("wrong"),
    );
    const login = await burrow(["login", "--username", authUser, "--password-stdin", registry], {
      home: h,
      input: authPassword + "\n",
    });
    assert.equal(login.code, 0, login.stderr);
    assert.ok(!(login.stdout + login.stderr).includes(authPassword), "the password is never printed");
    const st = fs.statSync(path.join(h.burrowDir, "credentials.json"));
    assert.equal(st.mode & 0o777, 0o600);
    const r = await burrow(["pull", "--debug", pushed.ref], { home: h });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!(r.stdout + r.stderr).includes(authPassword), "not even with --debug");
    const conf = await burrow(["showconf"], { home: h });
    assert.ok(!conf.stdout.includes(authPassword));
    const out = await burrow(["logout", registry], { home: h });
    assert.equal(out.code, 0);
    assert.equal((await burrow(["rmi", pushed.ref], { home: h })).code, 0);
    assert.equal((await burrow(["pull", pushed.ref], { home: h })).code, 1);
  } finally {
    await h.cleanup();
  }
});

test("credentials in docker's config.json are used without logging in", async () => {
  const { authUser, authPassword } = env();
  const registry = env().registries.auth.host;
  const repo = uniqueRepo("dockercfg");
  const pushed = await pushImage("auth", repo, "1", [
    await layerFromEntries([{ path: "f", type: "file", content: "f" }]),
  ]);
  const h = await makeTestHome();
  try {
    const dockerDir = path.join(h.dir, ".docker");
    fs.mkdirSync(dockerDir);
    fs.writeFileSync(
      path.join(dockerDir, "config.json"),
      JSON.stringify({
        auths: { [registry]: { auth: Buffer.from(`${authUser}:${authPassword}`).toString("base64") } },
      }),
    );
    const { chownToTestUser } = await import("../harness/env.js");
    await chownToTestUser(dockerDir);
    const r = await burrow(["pull", pushed.ref], { home: h });
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await h.cleanup();
  }
});

test("Bearer token auth against a registry with a token server, after login", async () => {
  const { authUser, authPassword } = env();
  const registry = env().registries.token.host;
  const repo = uniqueRepo("token");
  const pushed = await pushImage("token", repo, "1", [
    await layerFromEntries([{ path: "t", type: "file", content: "t" }]),
  ]);
  const h = await makeTestHome();
  try {
    const login = await burrow(["login", "-u", authUser, "--password-stdin", registry], {
      home: h,
      input: authPassword,
    });
    assert.equal(login.code, 0, login.stderr);
    const r = await burrow(["pull", pushed.ref], { home: h });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(await rootfsOf(pushed.ref, { home: h }), "t")));
  } finally {
    await h.cleanup();
  }
});

test("picks the host's platform from a multi-platform index, and another with --platform", async () => {
  const repo = uniqueRepo("multi");
  const amd = await pushImage(
    "plain",
    repo,
    null,
    [await layerFromEntries([{ path: "arch", type: "file", content: "amd64" }])],
    {
      architecture: "amd64",
    },
  );
  const arm = await pushImage(
    "plain",
    repo,
    null,
    [await layerFromEntries([{ path: "arch", type: "file", content: "arm64" }])],
    {
      architecture: "arm64",
      variant: "v8",
    },
  );
  for (const format of ["oci", "docker"] as const) {
    const tag = `multi-${format}`;
    await pushIndex(
      "plain",
      repo,
      tag,
      [
        {
          manifestDigest: arm.manifestDigest,
          platform: { os: "linux", architecture: "arm64", variant: "v8" },
        },
        { manifestDigest: amd.manifestDigest, platform: { os: "linux", architecture: "amd64" } },
      ],
      format,
    );
    const ref = imageRef("plain", repo, tag);
    const r = await burrow(["pull", ref]);
    assert.equal(r.code, 0, r.stderr);
    const hostArch = process.arch === "arm64" ? "arm64" : "amd64";
    assert.equal(fs.readFileSync(path.join(await rootfsOf(ref), "arch"), "utf8"), hostArch);
    const other = hostArch === "amd64" ? "linux/arm64" : "linux/amd64";
    const r2 = await burrow(["pull", "--platform", other, ref]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(fs.readFileSync(path.join(await rootfsOf(ref), "arch"), "utf8"), other.split("/")[1]);
    const none = await burrow(["pull", "--platform", "linux/s390x", ref]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /linux\/amd64/);
  }
});

test("pulls a zstd-compressed layer", async () => {
  const repo = uniqueRepo("zstd");
  const layer = await layerFromEntries(
    [
      { path: "z/", type: "dir" },
      { path: "z/data", type: "file", content: "zstd content ".repeat(1000) },
    ],
    "zstd",
  );
  const pushed = await pushImage("plain", repo, "1", [layer]);
  const r = await burrow(["pull", pushed.ref]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    fs.readFileSync(path.join(await rootfsOf(pushed.ref), "z/data"), "utf8"),
    "zstd content ".repeat(1000),
  );
});

test("unknown images and malformed references fail with one line and exit 1", async () => {
  const missing = await burrow(["pull", imageRef("plain", uniqueRepo("nope"), "1")]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr.trim().split("\n").length, 1, missing.stderr);
  assert.match(missing.stderr, /not found|unknown/i);
  for (const bad of ["UPPER/case", "a:b:c:d", "repo@sha256:123", "-leading"]) {
    const r = await burrow(["pull", "--", bad]);
    assert.equal(r.code, 1, `${bad}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(!/\n\s+at /.test(r.stderr), "no stack trace");
  }
  const dbg = await burrow(["pull", "--debug", "UPPER/case"]);
  assert.match(dbg.stderr, /ERR_INVALID_REFERENCE/);
});

test("tag, rmi and images: names come and go, the image goes with its last name", async () => {
  const repo = uniqueRepo("names");
  const pushed = await pushImage("plain", repo, "1", [
    await layerFromEntries([{ path: "n", type: "file", content: "names" }]),
  ]);
  const h = await makeTestHome();
  try {
    assert.equal((await burrow(["pull", pushed.ref], { home: h })).code, 0);
    assert.equal((await burrow(["tag", pushed.ref, "myimg:1"], { home: h })).code, 0);
    const list = await burrow(["images"], { home: h });
    assert.match(list.stdout, /myimg\s+1\s/);
    assert.equal(
      (await burrow(["inspect", "-p", "myimg:1"], { home: h })).stdout,
      (await burrow(["inspect", "-p", pushed.ref], { home: h })).stdout,
    );
    const rm1 = await burrow(["rmi", pushed.ref], { home: h });
    assert.equal(rm1.code, 0, rm1.stderr);
    assert.doesNotMatch(rm1.stdout, /Deleted/);
    const blobs = path.join(h.burrowDir, "blobs", "sha256");
    assert.ok(fs.readdirSync(blobs).length >= 3);
    const rm2 = await burrow(["rmi", "myimg:1"], { home: h });
    assert.equal(rm2.code, 0, rm2.stderr);
    assert.match(rm2.stdout, /Deleted: sha256:/);
    assert.deepEqual(fs.readdirSync(blobs), [], "every blob of the image is gone");
    assert.deepEqual(fs.readdirSync(path.join(h.burrowDir, "images")), []);
    const gone = await burrow(["inspect", "myimg:1"], { home: h });
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no image "myimg:1"/);
  } finally {
    await h.cleanup();
  }
});
