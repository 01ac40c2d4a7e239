// Smoke test of the test harness: the registries answer, auth is enforced, pushed images read back, the CLI runs as the test user.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runBurrow, testEnv } from "../harness/env.js";
import {
  getManifest,
  layerFromEntries,
  layerFromTarball,
  MEDIA_TYPES,
  pushBlob,
  pushImage,
  pushIndex,
  pushRawManifest,
  sha256,
  skopeoInspect,
  uniqueRepo,
} from "../harness/image-builder.js";
import { runProgram } from "../harness/proc.js";
import { rawRequest, registryRequest } from "../harness/registry-client.js";
import { signedSchema1Manifest } from "../harness/schema1.js";
import { writeTar } from "../harness/tar-writer.js";
import type { RegistryName } from "../harness/env.js";

const ALL: RegistryName[] = ["plain", "tls", "auth", "token", "schema1"];

describe("test harness", () => {
  it("starts every registry and each answers /v2/", async () => {
    const env = testEnv();
    for (const name of ALL) {
      const res = await registryRequest(env.registries[name], "GET", "/v2/");
      assert.equal(res.status, 200, `${name} registry /v2/: ${res.status} ${res.body.toString()}`);
    }
  });

  it("makes the auth registry refuse anonymous clients and accept the test credentials", async () => {
    const { auth } = testEnv().registries;
    const anonymous = await rawRequest(auth, "GET", `https://${auth.host}/v2/`);
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers["www-authenticate"]), /^Basic /);
    const wrong = await rawRequest(auth, "GET", `https://${auth.host}/v2/`, {
      headers: { authorization: "Basic " + Buffer.from(`${auth.auth!.username}:nope`).toString("base64") },
    });
    assert.equal(wrong.status, 401);
    const right = await registryRequest(auth, "GET", "/v2/");
    assert.equal(right.status, 200);
  });

  it("makes the token registry send clients to the token realm and accept its tokens", async () => {
    const { token } = testEnv().registries;
    const anonymous = await registryRequest(token, "GET", "/v2/", { anonymous: true });
    assert.equal(anonymous.status, 401);
    assert.match(
      String(anonymous.headers["www-authenticate"]),
      /^Bearer realm="https:\/\/127\.0\.0\.1:\d+\/token"/,
    );
    const repo = uniqueRepo("private");
    const layer = await layerFromEntries([{ path: "hello", type: "file", content: "hi\n" }]);
    await assert.rejects(pushImage(token, repo, "v1", [layer], { auth: null }), /HTTP 401/);
    const pushed = await pushImage(token, repo, "v1", [layer]);
    const back = await getManifest(token, repo, "v1");
    assert.equal(back.digest, pushed.manifestDigest);
  });

  it("lets anonymous clients pull public/ repositories of the token registry but not push", async () => {
    const { token } = testEnv().registries;
    const repo = `public/${uniqueRepo("smoke")}`;
    await pushImage(token, repo, "v1", [await layerFromEntries([{ path: "a", type: "file", content: "a" }])]);
    const anon = { ...token, auth: undefined };
    const back = await getManifest(anon, repo, "v1");
    assert.equal(back.status, 200);
    await assert.rejects(pushImage(anon, repo, "v2", [await layerFromEntries([])]), /HTTP 401/);
  });

  for (const name of ALL) {
    for (const format of ["docker", "oci"] as const) {
      it(`pushes a ${format} image to the ${name} registry that skopeo reads back`, async () => {
        const repo = uniqueRepo(`smoke-${format}`);
        const layers = [
          await layerFromEntries(
            [
              { path: "etc/", type: "dir" },
              { path: "etc/motd", type: "file", content: "hello\n" },
            ],
            "gzip",
          ),
          await layerFromEntries(
            [{ path: "etc/zstd", type: "file", content: "z" }],
            format === "oci" ? "zstd" : "none",
          ),
        ];
        const pushed = await pushImage(name, repo, "latest", layers, {
          format,
          config: { Cmd: ["/bin/sh"], Env: ["PATH=/bin"], WorkingDir: "/etc" },
        });
        const raw = await skopeoInspect(name, repo, "latest", ["--raw"]);
        assert.equal(raw.code, 0, raw.stderr);
        assert.equal(raw.stdout, pushed.manifest.toString());
        const config = await skopeoInspect(name, repo, "latest", ["--config"]);
        assert.equal(config.code, 0, config.stderr);
        const parsed = JSON.parse(config.stdout) as {
          config: { WorkingDir: string };
          rootfs: { diff_ids: string[] };
        };
        assert.equal(parsed.config.WorkingDir, "/etc");
        assert.deepEqual(
          parsed.rootfs.diff_ids,
          layers.map((l) => l.diffId),
        );
      });
    }
  }

  it("pushes a multi-platform index that skopeo resolves", async () => {
    const repo = uniqueRepo("smoke-index");
    const amd = await pushImage("tls", repo, null, [await layerFromEntries([{ path: "x", type: "file" }])], {
      architecture: "amd64",
    });
    const arm = await pushImage("tls", repo, null, [await layerFromEntries([{ path: "y", type: "file" }])], {
      architecture: "arm64",
      variant: "v8",
    });
    const index = await pushIndex("tls", repo, "multi", [
      { manifestDigest: amd.manifestDigest, platform: { os: "linux", architecture: "amd64" } },
      { manifestDigest: arm.manifestDigest, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
    ]);
    const back = await getManifest("tls", repo, "multi");
    assert.equal(back.mediaType, MEDIA_TYPES.ociIndex);
    assert.equal(back.digest, index.manifestDigest);
    const arm64 = await skopeoInspect("tls", repo, "multi", [
      "--override-arch=arm64",
      "--override-variant=v8",
    ]);
    assert.equal(arm64.code, 0, arm64.stderr);
    const info = JSON.parse(arm64.stdout) as { Architecture: string; Variant?: string; Layers: string[] };
    assert.equal(info.Architecture, "arm64");
    assert.deepEqual(info.Layers, [
      (JSON.parse(arm.manifest.toString()) as { layers: { digest: string }[] }).layers[0]!.digest,
    ]);
  });

  it("pushes a signed schema 1 manifest to the schema1 registry and reads it back", async () => {
    const repo = uniqueRepo("schema1");
    const layer = await layerFromEntries([{ path: "old", type: "file", content: "v1" }]);
    await pushBlob("schema1", repo, layer.blob);
    const { body, payload } = signedSchema1Manifest([layer], {
      name: repo,
      tag: "old",
      config: { Cmd: ["/old"] },
    });
    const pushed = await pushRawManifest("schema1", repo, "old", body, MEDIA_TYPES.dockerSchema1Signed);
    assert.equal(pushed.digest, sha256(payload));
    const raw = await skopeoInspect("schema1", repo, "old", ["--raw"]);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal((JSON.parse(raw.stdout) as { schemaVersion: number }).schemaVersion, 1);
    // The other registries run distribution's default, which refuses schema 1.
    await pushBlob("plain", repo, layer.blob);
    await assert.rejects(
      pushRawManifest("plain", repo, "old", body, MEDIA_TYPES.dockerSchema1Signed),
      /HTTP 500/,
    );
  });

  it("pushes the Alpine minirootfs tarball as a layer unchanged", async () => {
    const layer = await layerFromTarball(testEnv().alpine);
    assert.equal(layer.compression, "gzip");
    const repo = uniqueRepo("alpine");
    const pushed = await pushImage("plain", repo, "3.20", [layer], { format: "docker" });
    const raw = await skopeoInspect("plain", repo, "3.20", ["--raw"]);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(JSON.parse(raw.stdout).layers[0].digest, layer.digest);
    assert.ok(pushed.ref.endsWith(`/${repo}:3.20`));
  });

  it("writes hostile tar entries that GNU tar lists as written", async () => {
    const long = "d/" + "x".repeat(150);
    const tar = writeTar([
      { path: "../escape", type: "file", content: "out" },
      { path: "/abs", type: "file", content: "abs" },
      { path: "link", type: "symlink", linkname: "/etc/shadow" },
      { path: "hard", type: "hardlink", linkname: "../../etc/passwd" },
      { path: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
      { path: "fifo", type: "fifo" },
      { path: long, type: "file", content: "long", mode: 0o4755, uid: 1000, gid: 1000 },
      { path: "l2", type: "symlink", linkname: "y".repeat(120) },
    ]);
    assert.equal(tar.length % 512, 0);
    const listing = await runProgram("tar", ["-tvPf", "-", "--numeric-owner"], { input: tar });
    const lines = listing.stdout.trim().split("\n");
    assert.equal(lines.length, 8, listing.stdout + listing.stderr);
    assert.match(lines[0]!, /^-rw-r--r-- 0\/0 +3 .* \.\.\/escape$/);
    assert.match(lines[1]!, / \/abs$/);
    assert.match(lines[2]!, /^lrwxrwxrwx .* link -> \/etc\/shadow$/);
    assert.match(lines[3]!, / hard link to \.\.\/\.\.\/etc\/passwd$/);
    assert.match(lines[4]!, /^crw-rw-rw- 0\/0 +1,3 .* dev\/null$/);
    assert.match(lines[5]!, /^prw-r--r-- .* fifo$/);
    assert.match(lines[6]!, new RegExp(`^-rwsr-xr-x 1000/1000 +4 .* ${long}$`));
    assert.match(lines[7]!, new RegExp(`l2 -> ${"y".repeat(120)}$`));
  });

  it("runs `burrow version` as the test user", async () => {
    const env = testEnv();
    const r = await runBurrow(["version"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^burrow \d+\.\d+\.\d+/);
    const who = await runBurrow(["--version"], { env: { BURROW_DIR: undefined } });
    assert.equal(who.code, 0, who.stderr);
    if (process.getuid?.() === 0) assert.notEqual(env.user.uid, 0);
  });
});
