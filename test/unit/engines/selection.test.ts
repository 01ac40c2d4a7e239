// selectEngine: --engine > the container's saved engine > BURROW_ENGINE > config > the first usable probe.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Engine, ProbeResult } from "../../../src/engine-interface.js";
import {
  engineNames,
  isEngineName,
  loadEngine,
  probeAll,
  requestedEngine,
  selectEngine,
} from "../../../src/engine-registry.js";
import type { EngineContext, EngineLoader } from "../../../src/engine-registry.js";
import { EngineUnavailableError, InvalidArgumentError } from "../../../src/errors.js";

/** A fake engine whose probe answers `probe`. */
function fake(name: string, probe: ProbeResult): Engine {
  return {
    name,
    probe: () => Promise.resolve(probe),
    run: () => Promise.resolve(0),
  };
}

const ok = (name: string): ProbeResult => ({ ok: true, binary: `/bin/${name}`, version: "1" });
const no = (reason: string): ProbeResult => ({ ok: false, reason });

/** A loader over fake engines that records which were loaded (and with what context). */
function loader(
  probes: Record<string, ProbeResult>,
): EngineLoader & { loaded: string[]; ctx: EngineContext[] } {
  const loaded: string[] = [];
  const ctx: EngineContext[] = [];
  const load = (name: string, c: EngineContext): Promise<Engine> => {
    loaded.push(name);
    ctx.push(c);
    const p = probes[name];
    if (!p) throw new Error(`no fake for ${name}`);
    return Promise.resolve(fake(name, p));
  };
  return Object.assign(load, { loaded, ctx });
}

const NAMES = ["userns", "runc", "proot"];

describe("engine selection order", () => {
  const all = { userns: ok("userns"), runc: ok("runc"), proot: ok("proot") };

  test("--engine wins over everything", async () => {
    const l = loader(all);
    const e = await selectEngine(
      { flag: "proot", saved: "runc", env: "userns", config: "runc", storeRoot: "/s" },
      l,
      NAMES,
    );
    assert.equal(e.name, "proot");
    assert.deepEqual(l.loaded, ["proot"]);
  });

  test("the container's saved engine comes next", async () => {
    const e = await selectEngine(
      { saved: "runc", env: "proot", config: "userns", storeRoot: "/s" },
      loader(all),
      NAMES,
    );
    assert.equal(e.name, "runc");
  });

  test("then BURROW_ENGINE", async () => {
    const e = await selectEngine({ env: "proot", config: "runc", storeRoot: "/s" }, loader(all), NAMES);
    assert.equal(e.name, "proot");
  });

  test("then the config file", async () => {
    const e = await selectEngine({ config: "runc", storeRoot: "/s" }, loader(all), NAMES);
    assert.equal(e.name, "runc");
  });

  test("blank names are ignored", async () => {
    assert.deepEqual(requestedEngine({ flag: "", saved: "  ", env: "proot", storeRoot: undefined }), {
      name: "proot",
      source: "env",
    });
    assert.equal(requestedEngine({ storeRoot: undefined }), undefined);
  });

  test("otherwise the first usable engine in order, probing no further", async () => {
    const l = loader({ userns: no("no helper"), runc: ok("runc"), proot: ok("proot") });
    const e = await selectEngine({ storeRoot: "/s" }, l, NAMES);
    assert.equal(e.name, "runc");
    assert.deepEqual(l.loaded, ["userns", "runc"]);
  });

  test("the engines get the store root and burrow's environment", async () => {
    const l = loader(all);
    const env = { BURROW_NS: "/x/burrow-ns" };
    await selectEngine({ storeRoot: "/my/store", processEnv: env }, l, NAMES);
    assert.deepEqual(l.ctx[0], { storeRoot: "/my/store", env });
  });
});

describe("engine selection errors", () => {
  test("an asked engine that cannot run is ERR_ENGINE_UNAVAILABLE with its reason", async () => {
    const l = loader({ userns: no("user namespaces are disabled"), runc: ok("runc"), proot: ok("proot") });
    await assert.rejects(selectEngine({ flag: "userns", storeRoot: "/s" }, l, NAMES), (err: unknown) => {
      assert.ok(err instanceof EngineUnavailableError);
      assert.equal(err.code, "ERR_ENGINE_UNAVAILABLE");
      assert.equal(err.exitCode, undefined, "the command's own failure status (125 for run, 1 for setup)");
      assert.equal(err.message, "engine userns cannot run here: user namespaces are disabled");
      return true;
    });
  });

  test("a saved engine that cannot run is not silently replaced", async () => {
    const l = loader({ userns: ok("userns"), runc: no("runc is not installed"), proot: ok("proot") });
    await assert.rejects(
      selectEngine({ saved: "runc", storeRoot: "/s" }, l, NAMES),
      /engine runc cannot run here: runc is not installed/,
    );
  });

  test("an unknown name is a usage error listing the known engines and where it came from", async () => {
    await assert.rejects(
      selectEngine({ flag: "docker", storeRoot: "/s" }, loader({}), NAMES),
      (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.equal(err.message, 'unknown engine "docker" (from --engine): use one of userns, runc, proot');
        return true;
      },
    );
    await assert.rejects(
      selectEngine({ env: "chroot", storeRoot: "/s" }, loader({}), NAMES),
      /unknown engine "chroot" \(from BURROW_ENGINE\)/,
    );
    await assert.rejects(
      selectEngine({ config: "lxc", storeRoot: "/s" }, loader({}), NAMES),
      /unknown engine "lxc" \(from the config file's engine\)/,
    );
  });

  test("no usable engine lists every engine's reason", async () => {
    const l = loader({ userns: no("no helper"), runc: no("no runc"), proot: no("ptrace is forbidden") });
    await assert.rejects(selectEngine({ storeRoot: "/s" }, l, NAMES), (err: unknown) => {
      assert.ok(err instanceof EngineUnavailableError);
      assert.match(
        err.message,
        /^no engine can run here \(userns: no helper; runc: no runc; proot: ptrace is forbidden\)/,
      );
      assert.match(err.message, /burrow info/);
      return true;
    });
  });
});

describe("the registry", () => {
  test("lists only implemented engines, userns first", () => {
    assert.equal(engineNames[0], "userns");
    assert.ok(isEngineName("userns"));
    assert.ok(!isEngineName("toString"));
  });

  test("loadEngine imports the engine's module lazily and builds it", async () => {
    const engine = await loadEngine("userns", { storeRoot: "/nonexistent", env: {} });
    assert.equal(engine.name, "userns");
    assert.equal(engine.supportsOverlay, true);
  });

  test("loadEngine refuses an unknown name", async () => {
    await assert.rejects(loadEngine("nope", { storeRoot: undefined, env: {} }), InvalidArgumentError);
  });

  test("probeAll reports every engine in order, a throwing probe included", async () => {
    const load: EngineLoader = (name) => {
      if (name === "runc") return Promise.reject(new Error("boom"));
      return Promise.resolve(fake(name, name === "userns" ? ok(name) : no("nope")));
    };
    const reports = await probeAll({ storeRoot: undefined, env: {} }, load, NAMES);
    assert.deepEqual(
      reports.map((r) => [r.name, r.probe.ok]),
      [
        ["userns", true],
        ["runc", false],
        ["proot", false],
      ],
    );
    assert.equal(reports[1]!.probe.ok ? "" : reports[1]!.probe.reason, "its probe failed: boom");
  });
});
