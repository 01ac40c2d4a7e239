// Platform parsing, normalisation, the host's platform, and choosing a manifest from an index.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformScore,
  selectManifest,
} from "../../../src/registry/platform.js";
import type { Descriptor, ImageIndex } from "../../../src/registry/manifest.js";
import { InvalidArgumentError, PlatformNotFoundError } from "../../../src/errors.js";

test("parsePlatform normalises aliases and default variants", () => {
  assert.deepEqual(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("linux/x86_64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("linux/amd64/v1"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("linux/arm64"), { os: "linux", architecture: "arm64", variant: "v8" });
  assert.deepEqual(parsePlatform("linux/aarch64"), { os: "linux", architecture: "arm64", variant: "v8" });
  assert.deepEqual(parsePlatform("linux/arm"), { os: "linux", architecture: "arm", variant: "v7" });
  assert.deepEqual(parsePlatform("linux/arm/6"), { os: "linux", architecture: "arm", variant: "v6" });
  assert.deepEqual(parsePlatform("Linux/ARM64/V8"), { os: "linux", architecture: "arm64", variant: "v8" });
  assert.deepEqual(normalizePlatform({ os: "linux", architecture: "armhf" }), {
    os: "linux",
    architecture: "arm",
    variant: "v7",
  });
});

test("parsePlatform refuses malformed values with a hint", () => {
  for (const bad of ["linux", "linux/", "/amd64", "a/b/c/d", "linux/amd 64"]) {
    assert.throws(
      () => parsePlatform(bad),
      (err: Error) =>
        err instanceof InvalidArgumentError && /expected os\/arch\[\/variant\]/.test(err.message),
      bad,
    );
  }
});

test("hostPlatform maps node's architectures to OCI names", () => {
  assert.deepEqual(hostPlatform("x64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(hostPlatform("arm64"), { os: "linux", architecture: "arm64", variant: "v8" });
  assert.equal(hostPlatform("arm").architecture, "arm");
  assert.deepEqual(hostPlatform("ia32"), { os: "linux", architecture: "386" });
  assert.deepEqual(hostPlatform("s390x"), { os: "linux", architecture: "s390x" });
  assert.deepEqual(hostPlatform("riscv64"), { os: "linux", architecture: "riscv64" });
});

test("platformScore: exact variant best, lower arm levels acceptable, higher never", () => {
  const armv7 = { os: "linux", architecture: "arm", variant: "v7" };
  assert.equal(platformScore(armv7, { os: "linux", architecture: "arm", variant: "v7" }), 100);
  assert.equal(platformScore(armv7, { os: "linux", architecture: "arm", variant: "v6" }), 99);
  assert.equal(platformScore(armv7, { os: "linux", architecture: "arm", variant: "v8" }), undefined);
  assert.equal(
    platformScore({ os: "linux", architecture: "arm64" }, { os: "linux", architecture: "arm64" }),
    100,
  );
  assert.equal(
    platformScore(
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "amd64", variant: "v3" },
    ),
    undefined,
  );
  assert.equal(
    platformScore(
      { os: "linux", architecture: "amd64", variant: "v3" },
      { os: "linux", architecture: "amd64" },
    ),
    98,
  );
  assert.equal(
    platformScore({ os: "linux", architecture: "amd64" }, { os: "windows", architecture: "amd64" }),
    undefined,
  );
});

function entry(
  n: number,
  platform: Descriptor["platform"],
  mediaType = "application/vnd.oci.image.manifest.v1+json",
): Descriptor {
  return {
    mediaType,
    digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
    size: 100,
    ...(platform ? { platform } : {}),
  };
}

const index: ImageIndex = {
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [
    entry(1, { os: "linux", architecture: "amd64" }),
    entry(2, { os: "linux", architecture: "arm", variant: "v6" }),
    entry(3, { os: "linux", architecture: "arm", variant: "v7" }),
    entry(4, { os: "linux", architecture: "arm64", variant: "v8" }),
    entry(5, { os: "unknown", architecture: "unknown" }),
    entry(6, { os: "windows", architecture: "amd64", "os.version": "10.0.17763.1" }),
  ],
};

test("selectManifest picks the matching entry and prefers the exact variant", () => {
  assert.equal(selectManifest(index, parsePlatform("linux/amd64")).digest, index.manifests[0]!.digest);
  assert.equal(selectManifest(index, parsePlatform("linux/arm64")).digest, index.manifests[3]!.digest);
  assert.equal(selectManifest(index, parsePlatform("linux/arm/v7")).digest, index.manifests[2]!.digest);
  assert.equal(selectManifest(index, parsePlatform("linux/arm/v6")).digest, index.manifests[1]!.digest);
  assert.equal(selectManifest(index, parsePlatform("windows/amd64")).digest, index.manifests[5]!.digest);
});

test("selectManifest lists the available platforms when none matches", () => {
  assert.throws(
    () => selectManifest(index, parsePlatform("linux/ppc64le"), "docker.io/library/x:1"),
    (err: Error) => {
      assert.ok(err instanceof PlatformNotFoundError);
      assert.equal(
        err.message,
        "docker.io/library/x:1 has no manifest for linux/ppc64le; it is available for linux/amd64, " +
          "linux/arm/v6, linux/arm/v7, linux/arm64/v8, windows/amd64; choose one with --platform",
      );
      return true;
    },
  );
});
