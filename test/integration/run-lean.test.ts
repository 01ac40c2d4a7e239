// `burrow run` of an image in the store keeps its start lean (issue 3): no HTTP stack, no zlib, no npm
// package, and not the whole CLI (run.cjs alone, src/cli/run-direct.ts); a pull still goes through it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { runBurrow, makeTestHome } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { pushImage, uniqueRepo } from "../harness/image-builder.js";
import { alpineLayer, plainRegistryEnv } from "../harness/suite.js";

let home: TestHome;
let ref = "";
let preload = "";

/** What a preloaded script saw loaded when the process exited: builtins and CommonJS files. */
interface Loaded {
  builtins: string[];
  files: string[];
}

before(async () => {
  home = await makeTestHome();
  ref = (await pushImage("plain", uniqueRepo("lean"), "1", [await alpineLayer()])).ref;
  // Written at exit by the process itself (NODE_OPTIONS=--require), into the test user's home.
  preload = path.join(home.dir, "loaded.cjs");
  fs.writeFileSync(
    preload,
    `process.on("exit", () => require("fs").writeFileSync(${JSON.stringify(path.join(home.dir, "loaded.json"))},` +
      " JSON.stringify({ builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule '))" +
      ".map((m) => m.slice(13)), files: Object.keys(require.cache) })));\n",
    { mode: 0o644 },
  );
});
after(async () => {
  await home.cleanup();
});

/** Runs burrow with the preload; returns what it loaded. */
async function loadedBy(args: string[]): Promise<Loaded> {
  const r = await runBurrow(args, {
    home,
    env: { ...plainRegistryEnv(), NODE_OPTIONS: `--require=${preload}` },
  });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(fs.readFileSync(path.join(home.dir, "loaded.json"), "utf8")) as Loaded;
}

test("run pulls through the whole CLI when the image is missing, then runs lean from the store", async () => {
  const cache = path.join(home.dir, ".cache", "burrow");
  const first = await loadedBy(["run", ref, "true"]);
  assert.ok(first.builtins.includes("http"), "the first run pulled the image (the HTTP stack was loaded)");
  fs.rmSync(cache, { recursive: true, force: true });

  const lean = await loadedBy(["run", ref, "true"]);
  const heavy = lean.builtins.filter((m) => ["http", "https", "http2", "tls", "zlib", "crypto"].includes(m));
  assert.deepEqual(heavy, [], "a run of a pulled image loads no HTTP stack, zlib or crypto");
  const packages = lean.files.filter(
    (f) => f.includes(`${path.sep}node_modules${path.sep}`) || f.endsWith("got.cjs"),
  );
  assert.deepEqual(packages, [], "and no npm package");
  // The launcher compiles run.cjs alone (its code cache is the only one made), not the whole CLI; the run
  // leaves its replay record (src/run/replay-record.ts).
  assert.deepEqual(fs.readdirSync(cache).sort(), ["code-cache-run.bin", "replay"]);
});
