// The engine settings `setup` saves: --engine names with variants, udocker's execmodes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { describeSetting, engineSetting, parseExecmode } from "../../../src/install/execmode.js";
import { splitEngineSetting } from "../../../src/engines.js";

const ENGINES = ["userns", "runc", "proot"];

describe("udocker execmodes", () => {
  test("P1, P2, R1, R2 map to proot, proot:noseccomp, runc, runc:crun (any case)", () => {
    assert.deepEqual(parseExecmode("P1"), { kind: "engine", setting: "proot" });
    assert.deepEqual(parseExecmode("p2"), { kind: "engine", setting: "proot:noseccomp" });
    assert.deepEqual(parseExecmode("R1"), { kind: "engine", setting: "runc" });
    assert.deepEqual(parseExecmode("R2"), { kind: "engine", setting: "runc:crun" });
  });

  test("F1-F4 (fakechroot) mean the fastest engine here", () => {
    for (const m of ["F1", "F2", "F3", "f4"]) {
      assert.deepEqual(parseExecmode(m), { kind: "fastest", mode: m.toUpperCase() });
    }
  });

  test("anything else is a usage error naming the modes", () => {
    assert.throws(() => parseExecmode("P3"), /unknown execmode "P3": use P1/);
  });
});

describe("engine settings", () => {
  test("known engines and their variants are accepted; crun is runc:crun", () => {
    assert.equal(engineSetting("runc", ENGINES), "runc");
    assert.equal(engineSetting("proot:noseccomp", ENGINES), "proot:noseccomp");
    assert.equal(engineSetting("crun", ENGINES), "runc:crun");
  });

  test("unknown engines, unknown variants and engines not in the registry are refused", () => {
    assert.throws(
      () => engineSetting("docker", ENGINES),
      /unknown engine "docker": use one of userns, runc, runc:crun/,
    );
    assert.throws(() => engineSetting("proot:fast", ENGINES), /unknown engine/);
    assert.throws(() => engineSetting("userns:x", ENGINES), /unknown engine/);
    assert.throws(() => engineSetting("proot", ["userns"]), /unknown engine/);
  });

  test("a saved setting splits into the engine and the variant its context gets", () => {
    assert.deepEqual(splitEngineSetting("proot:noseccomp"), { name: "proot", variant: "noseccomp" });
    assert.deepEqual(splitEngineSetting("runc"), { name: "runc", variant: undefined });
  });

  test("settings are described with udocker's execmode", () => {
    assert.equal(describeSetting("proot:noseccomp"), "proot:noseccomp (execmode P2)");
    assert.equal(describeSetting("userns"), "userns");
    assert.match(describeSetting(undefined), /^automatic/);
  });
});
