// The per-boot cache of a successful engine probe (src/run/probe-cache.ts) and its use by the userns
// engine: a second run with the same helper and settings skips the trial run; anything else probes again.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileIdentity, fileProbeCache } from "../../../src/run/probe-cache.js";
import { UsernsEngine } from "../../../engines/userns/index.js";
import type { TrialResult } from "../../../engines/userns/index.js";
import type { ProbeCache } from "../../../src/run/probe-cache.js";
import { MAX_USER_NAMESPACES } from "../../../engines/common/userns-sysctl.js";

const OK = { ok: true as const, binary: "/x/burrow-ns", version: "0.1.0 (interface 6)" };

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "burrow-probe-cache-"));
}

describe("fileProbeCache", () => {
  test("gives back a successful result under the same key and boot only", () => {
    const dir = tmpDir();
    const cache = fileProbeCache(dir, "userns", () => "boot-1");
    assert.equal(cache.read("k"), undefined);
    cache.write("k", OK);
    assert.deepEqual(cache.read("k"), OK);
    assert.equal(cache.read("other"), undefined);
    assert.equal(fileProbeCache(dir, "userns", () => "boot-2").read("k"), undefined);
    assert.equal(fileProbeCache(dir, "proot", () => "boot-1").read("k"), undefined);
    assert.deepEqual(fileProbeCache(dir, "userns", () => "boot-1").read("k"), OK);
    cache.clear();
    assert.equal(cache.read("k"), undefined);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  test("keeps nothing for a failed probe, an unknown boot or an unwritable folder", () => {
    const dir = tmpDir();
    fileProbeCache(dir, "userns", () => "b").write("k", { ok: false, reason: "no" });
    assert.deepEqual(fs.readdirSync(dir), []);
    const noBoot = fileProbeCache(dir, "userns", () => undefined);
    noBoot.write("k", OK);
    assert.equal(noBoot.read("k"), undefined);
    assert.deepEqual(fs.readdirSync(dir), []);
    const gone = fileProbeCache(path.join(dir, "missing"), "userns", () => "b");
    gone.write("k", OK);
    assert.equal(gone.read("k"), undefined);
  });

  test("a file's identity changes with its content", () => {
    const dir = tmpDir();
    const f = path.join(dir, "helper");
    fs.writeFileSync(f, "a");
    const before = fileIdentity(f);
    fs.writeFileSync(f, "bb");
    assert.notEqual(fileIdentity(f), before);
    assert.equal(fileIdentity(path.join(dir, "none")), undefined);
  });
});

describe("userns probe with a cache", () => {
  const VERSION = "burrow-ns 0.1.0 (interface 6)\n";

  function setup(): { helper: string; cache: ProbeCache } {
    const dir = tmpDir();
    const helper = path.join(dir, "burrow-ns");
    fs.writeFileSync(helper, "#!/bin/sh\n", { mode: 0o755 });
    return { helper, cache: fileProbeCache(dir, "userns", () => "boot") };
  }

  function engine(
    helper: string,
    cache: ProbeCache,
    trials: string[],
    opts: { max?: string; trial?: TrialResult } = {},
  ): UsernsEngine {
    return new UsernsEngine({
      storeRoot: undefined,
      env: { BURROW_NS: helper },
      packageRoot: undefined,
      privileged: false,
      readSysctl: (p) => (p === MAX_USER_NAMESPACES ? (opts.max ?? "100") : undefined),
      isExecutable: () => true,
      trial: (h) => {
        trials.push(h);
        return Promise.resolve(opts.trial ?? { status: 0, stdout: VERSION, stderr: "" });
      },
      probeCache: cache,
    });
  }

  test("a later engine object reuses the first trial run's success", async () => {
    const { helper, cache } = setup();
    const trials: string[] = [];
    const first = await engine(helper, cache, trials).probe();
    assert.equal(first.ok, true);
    const second = await engine(helper, cache, trials).probe();
    assert.deepEqual(second, first);
    assert.equal(trials.length, 1);
  });

  test("other settings or another helper build probe again", async () => {
    const { helper, cache } = setup();
    const trials: string[] = [];
    await engine(helper, cache, trials).probe();
    await engine(helper, cache, trials, { max: "200" }).probe();
    assert.equal(trials.length, 2);
    fs.writeFileSync(helper, "#!/bin/sh\n# rebuilt\n");
    await engine(helper, cache, trials, { max: "200" }).probe();
    assert.equal(trials.length, 3);
  });

  test("a failed trial is not kept and the sysctl check still runs first", async () => {
    const { helper, cache } = setup();
    const trials: string[] = [];
    const failed = await engine(helper, cache, trials, {
      trial: { status: 125, stdout: "", stderr: "burrow-ns: unshare: Operation not permitted\n" },
    }).probe();
    assert.equal(failed.ok, false);
    await engine(helper, cache, trials).probe();
    assert.equal(trials.length, 2);
    const blocked = await engine(helper, cache, trials, { max: "0" }).probe();
    assert.equal(blocked.ok, false);
    assert.equal(trials.length, 2);
  });
});
