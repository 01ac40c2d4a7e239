// The install manifest: parsing, platform choice, download addresses (pinned URL, base, mirror layout).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { downloadUrl, entriesFor, mirrorName, parseManifest } from "../../../src/install/manifest.js";
import { InvalidArgumentError } from "../../../src/errors.js";

const SHA = "a".repeat(64);
const entry = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: "runc",
  version: "1.2.5",
  platform: "linux-x64",
  url: "opencontainers/runc/releases/download/v1.2.5/runc.amd64",
  sha256: SHA,
  ...over,
});
const text = (binaries: unknown[], base?: string): string => JSON.stringify({ base, binaries });

describe("parseManifest", () => {
  test("reads entries and the base", () => {
    const m = parseManifest(text([entry()], "https://github.com/"), "m.json");
    assert.equal(m.base, "https://github.com/");
    assert.equal(m.binaries[0]?.name, "runc");
  });

  test("refuses a name outside proot, runc, crun (it becomes a file name in bin/)", () => {
    assert.throws(() => parseManifest(text([entry({ name: "../evil" })]), "m"), InvalidArgumentError);
  });

  test("refuses malformed checksums, versions and platforms", () => {
    for (const bad of [
      { sha256: "ABC" },
      { sha256: SHA.toUpperCase() },
      { version: "1 2" },
      { platform: "x64" },
    ]) {
      assert.throws(() => parseManifest(text([entry(bad)]), "m"), /invalid/);
    }
  });

  test("refuses one binary listed twice for a platform", () => {
    assert.throws(() => parseManifest(text([entry(), entry()]), "m"), /twice/);
  });

  test("refuses text that is not JSON", () => {
    assert.throws(() => parseManifest("{", "m"), /not JSON/);
  });

  test("the pinned vendor/manifest.json is valid and covers proot and runc on x64 and arm64", () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const file = path.resolve(here, "../../../../vendor/manifest.json");
    const m = parseManifest(fs.readFileSync(file, "utf8"), file);
    for (const platform of ["linux-x64", "linux-arm64"]) {
      assert.deepEqual(
        entriesFor(m, platform)
          .map((e) => e.name)
          .sort(),
        ["proot", "runc"],
      );
    }
    for (const e of m.binaries) assert.equal(downloadUrl(e, m, undefined).protocol, "https:");
  });
});

describe("entriesFor", () => {
  const m = parseManifest(text([entry(), entry({ name: "proot" }), entry({ platform: "linux-arm64" })]), "m");

  test("keeps this platform's binaries", () => {
    assert.deepEqual(
      entriesFor(m, "linux-x64").map((e) => e.name),
      ["runc", "proot"],
    );
  });

  test("names restrict the list; an unknown one is an error", () => {
    assert.deepEqual(
      entriesFor(m, "linux-x64", ["proot"]).map((e) => e.name),
      ["proot"],
    );
    assert.throws(() => entriesFor(m, "linux-arm64", ["proot"]), /no proot for linux-arm64/);
  });
});

describe("downloadUrl", () => {
  const m = parseManifest(text([entry()], "https://github.com/"), "m");
  const e = m.binaries[0]!;

  test("a relative url is resolved against base", () => {
    assert.equal(
      downloadUrl(e, m, undefined).href,
      "https://github.com/opencontainers/runc/releases/download/v1.2.5/runc.amd64",
    );
  });

  test("without base, against the manifest's own URL", () => {
    assert.equal(
      downloadUrl(e, {}, undefined, "http://127.0.0.1:8080/pins/manifest.json").href,
      "http://127.0.0.1:8080/pins/opencontainers/runc/releases/download/v1.2.5/runc.amd64",
    );
  });

  test("BURROW_INSTALL_URL: <mirror>/<name>-<version>-<platform>, trailing slashes ignored", () => {
    assert.equal(mirrorName(e), "runc-1.2.5-linux-x64");
    assert.equal(
      downloadUrl(e, m, "https://mirror.example.org/burrow/").href,
      "https://mirror.example.org/burrow/runc-1.2.5-linux-x64",
    );
  });

  test("refuses non-HTTP addresses", () => {
    assert.throws(() => downloadUrl({ ...e, url: "file:///etc/passwd" }, {}, undefined), /not an http/);
    assert.throws(() => downloadUrl(e, {}, undefined), InvalidArgumentError);
  });
});
