import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { packageRoot, packageVersion } from "../../../src/package-info.js";

const BIN = path.join(packageRoot(), "dist", "src", "cli", "burrow.cjs");

/** Runs the built `burrow` executable with `env` on top of a bare environment. */
function burrow(
  args: string[],
  env: Record<string, string>,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("the executable saves V8's code cache once and reuses it", (t) => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-launch-"));
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  const first = burrow(["version", "--short"], { HOME: home });
  assert.deepEqual(first, { status: 0, stdout: `${packageVersion()}\n`, stderr: "" });
  const cache = path.join(home, ".cache", "burrow", "code-cache-cli.bin");
  const saved = fs.statSync(cache);
  const second = burrow(["version", "--short"], { HOME: home });
  assert.deepEqual(second, first);
  assert.equal(fs.statSync(cache).mtimeMs, saved.mtimeMs, "an accepted cache is not written again");
});

test("npm packages load through import() with and without a code cache (conf, for a config file)", (t) => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-launch-"));
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  fs.mkdirSync(path.join(home, ".config", "burrow"), { recursive: true });
  fs.writeFileSync(path.join(home, ".config", "burrow", "config.json"), '{"engine":"userns"}\n');
  for (const round of ["cold", "cached"]) {
    const r = burrow(["showconf"], { HOME: home });
    assert.equal(r.stderr, "", round);
    assert.equal(r.status, 0, round);
    assert.match(r.stdout, /^engine: userns/m, round);
  }
});

test("an unwritable cache folder changes nothing but the start-up time", (t) => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-launch-"));
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  fs.writeFileSync(path.join(home, "not-a-folder"), "");
  const r = burrow(["version", "--short"], { HOME: home, XDG_CACHE_HOME: path.join(home, "not-a-folder") });
  assert.deepEqual(r, { status: 0, stdout: `${packageVersion()}\n`, stderr: "" });
  assert.deepEqual(fs.readdirSync(home), ["not-a-folder"]);
});
