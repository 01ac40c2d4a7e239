// The runc engine's variant, through the real registry (src/engine-registry.ts) and the real engines/runc module:
// regression for `--engine runc:crun` running runc (selectEngine passed `variant`, createEngine read `flavor`).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadEngine, selectEngine, splitEngineSetting } from "../../../src/engine-registry.js";
import { InvalidArgumentError } from "../../../src/errors.js";
import type { RuncEngine } from "../../../engines/runc/index.js";

/** An environment whose BURROW_RUNC and BURROW_CRUN name two distinct executables. */
function runtimes(): { env: NodeJS.ProcessEnv; runc: string; crun: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-runc-variant-"));
  const runc = path.join(dir, "runc");
  const crun = path.join(dir, "crun");
  for (const [file, name] of [
    [runc, "runc"],
    [crun, "crun"],
  ] as const) {
    fs.writeFileSync(file, `#!/bin/sh\necho "${name} version 1.1.12"\n`, { mode: 0o755 });
  }
  return { env: { BURROW_RUNC: runc, BURROW_CRUN: crun, PATH: dir }, runc, crun };
}

test("engine setting runc:crun loads the runc engine running crun's binary", async () => {
  const { env, crun } = runtimes();
  const { name, variant } = splitEngineSetting("runc:crun");
  const engine = (await loadEngine(name, { storeRoot: undefined, env, variant })) as RuncEngine;
  assert.equal(engine.name, "runc");
  assert.equal(engine.flavor, "crun");
  assert.equal(engine.binary(), crun);
});

test("engine setting runc (and runc:runc, as setup --execmode=R1-R3 saves it) runs runc's binary", async () => {
  const { env, runc } = runtimes();
  for (const setting of ["runc", "runc:runc"]) {
    const { name, variant } = splitEngineSetting(setting);
    const engine = (await loadEngine(name, { storeRoot: undefined, env, variant })) as RuncEngine;
    assert.equal(engine.flavor, "runc", setting);
    assert.equal(engine.binary(), runc, setting);
  }
});

test("--engine runc:foo is refused in one line naming the variants, before any probe", async () => {
  const { env } = runtimes();
  await assert.rejects(
    selectEngine({ flag: "runc:foo", storeRoot: undefined, processEnv: env }),
    (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, String(err));
      assert.equal(err.message, 'the runc engine has no variant "foo": use runc or runc:crun');
      return true;
    },
  );
});
