import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { resolveConfig, isInsecureRegistry, defaultStoreDir, checkFileConfig } from "../../src/config.js";
import { InvalidArgumentError } from "../../src/errors.js";

const env = { HOME: "/home/u" };

test("the store defaults to ~/.local/share/burrow, then XDG_DATA_HOME", () => {
  assert.equal(defaultStoreDir(env), "/home/u/.local/share/burrow");
  assert.equal(defaultStoreDir({ ...env, XDG_DATA_HOME: "/data" }), "/data/burrow");
  assert.equal(defaultStoreDir({ ...env, XDG_DATA_HOME: "relative" }), "/home/u/.local/share/burrow");
});

test("config layers: defaults < file < environment < flags", () => {
  const d = resolveConfig({}, env, {});
  assert.equal(d.storeDir, "/home/u/.local/share/burrow");
  assert.equal(d.sources.storeDir, "default");
  const f = resolveConfig({ storeDir: "/file/store" }, env, {});
  assert.equal(f.storeDir, "/file/store");
  assert.equal(f.sources.storeDir, "file");
  const e = resolveConfig({ storeDir: "/file/store" }, { ...env, BURROW_DIR: "/env/store" }, {});
  assert.equal(e.storeDir, "/env/store");
  assert.equal(e.sources.storeDir, "env");
  const fl = resolveConfig(
    { storeDir: "/file/store" },
    { ...env, BURROW_DIR: "/env/store" },
    { repo: "/flag/store" },
  );
  assert.equal(fl.storeDir, "/flag/store");
  assert.equal(fl.sources.storeDir, "flag");
});

test("UDOCKER_DIR names the store when BURROW_DIR is unset or empty; BURROW_DIR and --repo win over it", () => {
  const u = resolveConfig({ storeDir: "/file/store" }, { ...env, UDOCKER_DIR: "/udocker/dir" }, {});
  assert.equal(u.storeDir, "/udocker/dir");
  assert.equal(u.sources.storeDir, "env");
  assert.equal(
    resolveConfig({}, { ...env, BURROW_DIR: "", UDOCKER_DIR: "/udocker/dir" }, {}).storeDir,
    "/udocker/dir",
  );
  assert.equal(
    resolveConfig({}, { ...env, BURROW_DIR: "/env/store", UDOCKER_DIR: "/udocker/dir" }, {}).storeDir,
    "/env/store",
  );
  assert.equal(
    resolveConfig({}, { ...env, UDOCKER_DIR: "/udocker/dir" }, { repo: "/flag/store" }).storeDir,
    "/flag/store",
  );
  assert.equal(
    resolveConfig({ storeDir: "/file/store" }, { ...env, UDOCKER_DIR: "" }, {}).storeDir,
    "/file/store",
  );
});

test("relative --repo is resolved against the working directory", () => {
  assert.equal(resolveConfig({}, env, { repo: "rel" }).storeDir, path.resolve("rel"));
});

test("insecure registries come from the file, then BURROW_INSECURE_REGISTRIES, and --insecure covers all", () => {
  const c = resolveConfig(
    { insecureRegistries: ["a:1"] },
    { ...env, BURROW_INSECURE_REGISTRIES: "b:5000, c" },
    {},
  );
  assert.deepEqual(c.insecureRegistries, ["b:5000", "c"]);
  assert.ok(isInsecureRegistry(c, "b:5000"));
  assert.ok(isInsecureRegistry(c, "c:443"));
  assert.ok(!isInsecureRegistry(c, "a:1"));
  assert.ok(!isInsecureRegistry(c, "b:5001"));
  const all = resolveConfig({}, env, { insecure: true });
  assert.ok(isInsecureRegistry(all, "anything:1"));
});

test("DOCKER_CONFIG and proxies come from the environment", () => {
  const c = resolveConfig(
    {},
    { ...env, DOCKER_CONFIG: "/dc", HTTPS_PROXY: "http://p:3128", NO_PROXY: "localhost" },
    {},
  );
  assert.equal(c.dockerConfigDir, "/dc");
  assert.equal(c.httpsProxy, "http://p:3128");
  assert.equal(c.noProxy, "localhost");
  assert.equal(resolveConfig({}, env, {}).dockerConfigDir, "/home/u/.docker");
});

test("the config file: each known key of the wrong type is one line naming the file, the key and the fix", () => {
  const file = "/home/u/.config/burrow/config.json";
  const refuses = (raw: unknown, re: RegExp): void =>
    assert.throws(
      () => checkFileConfig(raw, file),
      (err: unknown) =>
        err instanceof InvalidArgumentError &&
        !err.message.includes("\n") &&
        err.message.startsWith(`the config file ${file} `) &&
        err.message.endsWith(": fix or remove it") &&
        re.test(err.message),
    );
  refuses({ engine: 42 }, /sets "engine" to the number 42: it must be an engine name/);
  refuses({ engine: "" }, /sets "engine" to the string ""/);
  refuses({ storeDir: 42 }, /sets "storeDir" to the number 42: it must be a folder path/);
  refuses({ storeDir: ["/x"] }, /sets "storeDir" to a list/);
  refuses(
    { insecureRegistries: "a:5000" },
    /sets "insecureRegistries" to the string "a:5000": it must be a list/,
  );
  refuses({ insecureRegistries: ["a", 1] }, /sets "insecureRegistries" to a list/);
  refuses({ maxConcurrentDownloads: "4" }, /sets "maxConcurrentDownloads" to the string "4"/);
  refuses({ maxConcurrentDownloads: 0 }, /the number 0: it must be a whole number above 0/);
  refuses({ maxConcurrentDownloads: 1.5 }, /the number 1.5/);
  refuses(null, /holds null, not a JSON object/);
  refuses([1], /holds a list, not a JSON object/);
  refuses(7, /holds the number 7, not a JSON object/);
  const good = {
    engine: "runc",
    storeDir: "/s",
    insecureRegistries: ["a:1"],
    maxConcurrentDownloads: 2,
    other: 1,
  };
  assert.deepEqual(checkFileConfig(good, file), good);
});

test("mirrors come from the file, then BURROW_REGISTRY_MIRRORS (which replaces them, empty included)", () => {
  const file = { mirrors: { "docker.io": ["https://file-mirror"] } };
  const f = resolveConfig(file, env, {});
  assert.deepEqual(
    f.mirrors.map((r) => r.mirrors[0]!.host),
    ["file-mirror"],
  );
  assert.equal(f.sources.mirrors, "file");
  const e = resolveConfig(file, { ...env, BURROW_REGISTRY_MIRRORS: "quay.io=http://q:5000" }, {});
  assert.deepEqual(
    e.mirrors.map((r) => r.registry),
    ["quay.io"],
  );
  assert.equal(e.sources.mirrors, "env");
  assert.deepEqual(resolveConfig(file, { ...env, BURROW_REGISTRY_MIRRORS: "" }, {}).mirrors, []);
  assert.deepEqual(resolveConfig({}, env, {}).mirrors, []);
});

test("a mistake in BURROW_REGISTRY_MIRRORS is refused in one line that names the variable", () => {
  assert.throws(
    () => resolveConfig({}, { ...env, BURROW_REGISTRY_MIRRORS: "docker.io=ftp://m" }, {}),
    (e: unknown) =>
      e instanceof InvalidArgumentError && /fix or unset BURROW_REGISTRY_MIRRORS$/.test((e as Error).message),
  );
});

test("a wrong mirrors entry in the config file is refused naming the file and the entry", () => {
  assert.throws(
    () => checkFileConfig({ mirrors: { "docker.io": "https://a" } }, "/c.json"),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      /^the config file \/c.json sets "mirrors" wrong: the entry "docker.io" must be a list/.test(
        (e as Error).message,
      ),
  );
  assert.throws(
    () => checkFileConfig({ offline: "yes" }, "/c.json"),
    /"offline" to the string "yes": it must be true or false/,
  );
});

test("offline: the file, then BURROW_OFFLINE (1, true, yes...; 0, false, empty are off), then --offline", () => {
  assert.equal(resolveConfig({}, env, {}).offline, false);
  assert.equal(resolveConfig({ offline: true }, env, {}).offline, true);
  assert.equal(resolveConfig({ offline: true }, { ...env, BURROW_OFFLINE: "0" }, {}).offline, false);
  assert.equal(resolveConfig({}, { ...env, BURROW_OFFLINE: "1" }, {}).offline, true);
  assert.equal(resolveConfig({}, { ...env, BURROW_OFFLINE: "" }, {}).offline, false);
  assert.equal(resolveConfig({}, { ...env, BURROW_OFFLINE: "false" }, { offline: true }).offline, true);
});

test("imageFormat: dir by default, the file's, then BURROW_IMAGE_FORMAT; anything else is refused", () => {
  assert.equal(resolveConfig({}, env, {}).imageFormat, "dir");
  assert.equal(resolveConfig({ imageFormat: "squashfs" }, env, {}).imageFormat, "squashfs");
  assert.equal(
    resolveConfig({ imageFormat: "squashfs" }, { ...env, BURROW_IMAGE_FORMAT: "dir" }, {}).imageFormat,
    "dir",
  );
  assert.throws(
    () => resolveConfig({}, { ...env, BURROW_IMAGE_FORMAT: "sif\u001b[2J" }, {}),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      /"sif\\u001b\[2J": it must be "dir" or "squashfs"/.test((e as Error).message),
  );
  assert.throws(
    () => checkFileConfig({ imageFormat: "sif" }, "/c.json"),
    /"imageFormat" .*"dir" or "squashfs"/,
  );
});

test("stores: the file's list, else BURROW_STORES split on ',' or ':', absolute, never the user's own store", () => {
  assert.deepEqual(resolveConfig({}, env, {}).stores, []);
  assert.deepEqual(resolveConfig({ stores: ["/apps/s"] }, env, {}).stores, ["/apps/s"]);
  assert.deepEqual(
    resolveConfig({ stores: ["/apps/s"] }, { ...env, BURROW_STORES: "/a:/b, /c" }, {}).stores,
    ["/a", "/b", "/c"],
  );
  assert.deepEqual(
    resolveConfig({}, { ...env, BURROW_STORES: "/a:/home/u/.local/share/burrow" }, {}).stores,
    ["/a"],
  );
  assert.throws(() => checkFileConfig({ stores: "/a" }, "/c.json"), /"stores" .*a list of folders/);
});
