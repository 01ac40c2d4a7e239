// selectEngine's additions for `setup`: NAME:VARIANT settings reach the engine's context, the --debug line, the test-only switch.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Engine, ProbeResult } from "../../../src/engine-interface.js";
import { probeAll, selectEngine } from "../../../src/engine-registry.js";
import type { EngineContext } from "../../../src/engine-registry.js";

const NAMES = ["userns", "runc", "proot"];
const ok: ProbeResult = { ok: true, binary: "/bin/x", version: "1" };

function loader(probes: Record<string, ProbeResult>, seen: EngineContext[] = []) {
  return (name: string, ctx: EngineContext): Promise<Engine> => {
    seen.push(ctx);
    return Promise.resolve({
      name,
      probe: () => Promise.resolve(probes[name]!),
      run: () => Promise.resolve(0),
    });
  };
}

test("a saved proot:noseccomp loads proot with variant noseccomp and says where it came from", async () => {
  const seen: EngineContext[] = [];
  const lines: string[] = [];
  const e = await selectEngine(
    { saved: "proot:noseccomp", storeRoot: "/s", processEnv: {}, debug: (l) => lines.push(l) },
    loader({ proot: ok }, seen),
    NAMES,
  );
  assert.equal(e.name, "proot");
  assert.equal(seen[0]?.variant, "noseccomp");
  assert.deepEqual(lines, ["engine proot:noseccomp (from the container's saved engine)"]);
});

test("an unknown engine in a NAME:VARIANT setting is still a usage error", async () => {
  await assert.rejects(
    selectEngine({ saved: "docker:x", storeRoot: "/s", processEnv: {} }, loader({}), NAMES),
    /unknown engine "docker:x" \(from the container's saved engine\)/,
  );
});

test("BURROW_TEST_DISABLE_ENGINES=userns: runc is chosen and --debug says why userns was not", async () => {
  const lines: string[] = [];
  const e = await selectEngine(
    { storeRoot: "/s", processEnv: { BURROW_TEST_DISABLE_ENGINES: "userns" }, debug: (l) => lines.push(l) },
    loader({ userns: ok, runc: ok, proot: ok }),
    NAMES,
  );
  assert.equal(e.name, "runc");
  assert.deepEqual(lines, [
    "engine runc (userns: disabled by BURROW_TEST_DISABLE_ENGINES (a switch for tests))",
  ]);
});

test("the first usable engine is named as such under --debug", async () => {
  const lines: string[] = [];
  await selectEngine(
    { storeRoot: "/s", processEnv: {}, debug: (l) => lines.push(l) },
    loader({ userns: ok }),
    NAMES,
  );
  assert.deepEqual(lines, ["engine userns (the first usable one)"]);
});

test("burrow info sees the switch too", async () => {
  const r = await probeAll(
    { storeRoot: "/s", env: { BURROW_TEST_DISABLE_ENGINES: "userns,runc" } },
    loader({ userns: ok, runc: ok, proot: ok }),
    NAMES,
  );
  assert.deepEqual(
    r.map((x) => x.probe.ok),
    [false, false, true],
  );
});
