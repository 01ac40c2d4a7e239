import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { resolveConfig, isInsecureRegistry, defaultStoreDir } from "../../src/config.js";

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
