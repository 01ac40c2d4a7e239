// The engine settings `setup` saves: --engine names with variants, udocker's execmodes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  describeSetting,
  engineSetting,
  fastestNotice,
  parseExecmode,
} from "../../../src/install/execmode.js";
import { splitEngineSetting } from "../../../src/engine-registry.js";

const ENGINES = ["userns", "runc", "proot"];

describe("udocker execmodes", () => {
  test("P1, P2, R1 map to proot, proot:noseccomp, runc (any case)", () => {
    assert.deepEqual(parseExecmode("P1"), { kind: "engine", mode: "P1", setting: "proot" });
    assert.deepEqual(parseExecmode("p2"), { kind: "engine", mode: "P2", setting: "proot:noseccomp" });
    assert.deepEqual(parseExecmode("R1"), { kind: "engine", mode: "R1", setting: "runc" });
  });

  test("R2 and R3 (runc with PRoot inside for emulated root) run runc, with a notice saying why; crun is not R2", () => {
    for (const [m, seccomp] of [
      ["R2", "with seccomp"],
      ["r3", "without seccomp"],
    ] as const) {
      const meaning = parseExecmode(m);
      assert.equal(meaning.kind, "engine");
      assert.ok(meaning.kind === "engine");
      assert.equal(meaning.setting, "runc");
      assert.equal(meaning.mode, m.toUpperCase());
      assert.match(meaning.notice ?? "", new RegExp(`PRoot inside it \\(${seccomp}\\).*so runc runs it$`));
    }
  });

  test("F1-F4 (fakechroot) and S1 (Singularity/Apptainer) mean the fastest engine here", () => {
    for (const m of ["F1", "F2", "F3", "f4", "s1"]) {
      assert.deepEqual(parseExecmode(m), { kind: "fastest", mode: m.toUpperCase() });
    }
    assert.match(fastestNotice("F3", "userns"), /^execmode F3 is udocker's fakechroot mode.*using userns/);
    assert.match(
      fastestNotice("S1", "runc"),
      /^execmode S1 is udocker's Singularity\/Apptainer mode; neither is installed here .* so runc runs it/,
    );
    assert.match(fastestNotice("S1", "userns", "/usr/bin/apptainer"), /does not drive \/usr\/bin\/apptainer/);
  });

  test("anything else is a usage error naming the modes", () => {
    assert.throws(() => parseExecmode("P3"), /unknown execmode "P3": use P1 or P2 \(proot\), R1, R2 or R3/);
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
    assert.equal(describeSetting("runc"), "runc (execmode R1)");
    assert.equal(describeSetting("runc", "R3"), "runc (execmode R3)");
    assert.equal(describeSetting("userns", "F1"), "userns (execmode F1)");
    assert.equal(describeSetting("runc:crun"), "runc:crun");
    assert.match(describeSetting(undefined), /^automatic/);
  });
});
