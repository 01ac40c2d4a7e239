// Engine selection as the unprivileged test user: `setup` saves a container's engine (udocker's execmodes too),
// `run` uses it, and with user namespaces "disabled" burrow falls back to runc, then proot, saying so under --debug.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { makeTestHome } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { uniqueRepo } from "../harness/image-builder.js";
import { burrowIn, burrowFails, ok, pullAlpine, show } from "../harness/suite.js";
import { engineNames } from "../../src/engine-registry.js";

/** Prints the shell's pid and the tracer of the program (PRoot traces what it runs). */
const PROBE = ["sh", "-c", 'echo "pid=$$"; grep TracerPid /proc/self/status'];
const DISABLE = "BURROW_TEST_DISABLE_ENGINES";

let home: TestHome;
let image = "";

const burrow = burrowIn(() => home);

/** A new named container over the test image (made by a first run). */
async function container(): Promise<string> {
  const name = uniqueRepo("sel");
  ok(await burrow(["run", "--name", name, image, "true"]));
  return name;
}

/** The container's record as stored. */
function record(name: string): { engine?: string } {
  const dir = path.join(home.burrowDir, "containers");
  for (const id of fs.readdirSync(dir)) {
    const file = path.join(dir, id, "container.json");
    if (!fs.existsSync(file)) continue;
    const rec = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; engine?: string };
    if (rec.name === name) return rec;
  }
  throw new Error(`no container ${name} in the store`);
}

/** The tracer pid the program saw (non-zero under PRoot). */
function tracerPid(out: string): number {
  const m = /TracerPid:\s*(\d+)/.exec(out);
  assert.ok(m, `no TracerPid line in:\n${out}`);
  return Number(m[1]);
}

/** Skips (out loud) a test that needs engines that have not landed in the registry yet. */
function needs(...engines: string[]): { skip: string | false } {
  const missing = engines.filter((e) => !engineNames.includes(e));
  return {
    skip:
      missing.length > 0
        ? `needs the ${missing.join(", ")} engine(s), not in src/engine-registry.ts yet (issue 4)`
        : false,
  };
}

before(async () => {
  home = await makeTestHome();
  image = await pullAlpine(burrow, "sel-alpine");
});

after(async () => {
  await home?.cleanup();
});

describe("burrow setup", () => {
  test("with no option it prints the saved engine; --engine saves it atomically; --purge forgets it", async () => {
    const c = await container();
    assert.match(ok(await burrow(["setup", c])), new RegExp(`^${c}: engine automatic`));
    ok(await burrow(["setup", "--engine", "userns", c]));
    assert.equal(record(c).engine, "userns");
    assert.equal(ok(await burrow(["setup", c])), `${c}: engine userns\n`);
    const dir = path.join(home.burrowDir, "containers");
    assert.deepEqual(
      fs.readdirSync(dir).filter((n) => n.startsWith(".")),
      [],
      "no temporary files left beside the records",
    );
    ok(await burrow(["setup", "--purge", c]));
    assert.equal(record(c).engine, undefined);
  });

  test("run uses the saved engine and says so under --debug", async () => {
    const c = await container();
    ok(await burrow(["setup", "--engine=userns", c]));
    const r = await burrow(["run", "--debug", c, ...PROBE]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /^burrow: debug: engine userns \(from the container's saved engine\)$/m);
    assert.equal(tracerPid(r.stdout), 0);
  });

  test("F1-F4 (udocker's fakechroot) save the fastest engine here, with a one-line notice", async () => {
    const c = await container();
    const r = await burrow(["setup", "--execmode=F1", c]);
    assert.equal(r.code, 0, show(r));
    assert.match(
      r.stderr,
      /^burrow: execmode F1 is udocker's fakechroot mode, which burrow does not have; using userns, the fastest engine that works here$/m,
    );
    assert.equal(record(c).engine, "userns");
  });

  test("mistakes are one line and exit 1, and change nothing", async () => {
    const c = await container();
    burrowFails(
      await burrow(["setup", "--engine", "userns", "no-such-container"]),
      /^burrow: no container "no-such-container"/,
    );
    burrowFails(
      await burrow(["setup", "--engine", "docker", c]),
      /^burrow: unknown engine "docker": use one of /,
    );
    burrowFails(await burrow(["setup", "--execmode=P9", c]), /^burrow: unknown execmode "P9": use P1/);
    burrowFails(
      await burrow(["setup", "--engine", "userns", "--purge", c]),
      /give one of --engine, --execmode or --purge/,
    );
    assert.equal(record(c).engine, undefined);
  });

  test("setup --execmode=P1 then run uses proot (the program is traced)", needs("proot"), async () => {
    const c = await container();
    ok(await burrow(["setup", "--execmode=P1", c]));
    assert.equal(record(c).engine, "proot");
    const r = await burrow(["run", "--debug", c, ...PROBE]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /^burrow: debug: engine proot \(from the container's saved engine\)$/m);
    assert.notEqual(tracerPid(r.stdout), 0);
  });

  test(
    "setup --execmode=P2 saves proot:noseccomp and run passes the variant to proot",
    needs("proot"),
    async () => {
      const c = await container();
      ok(await burrow(["setup", "--execmode=P2", c]));
      assert.equal(record(c).engine, "proot:noseccomp");
      assert.match(ok(await burrow(["setup", c])), /proot:noseccomp \(execmode P2\)/);
      const r = await burrow(["run", "--debug", c, ...PROBE]);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stderr, /^burrow: debug: engine proot:noseccomp /m);
      assert.notEqual(tracerPid(r.stdout), 0);
    },
  );

  test("setup --engine runc then run uses runc", needs("runc"), async () => {
    const c = await container();
    ok(await burrow(["setup", "--engine", "runc", c]));
    assert.equal(record(c).engine, "runc");
    const r = await burrow(["run", "--debug", c, ...PROBE]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /^burrow: debug: engine runc \(from the container's saved engine\)$/m);
    assert.equal(tracerPid(r.stdout), 0);
  });
});

describe("automatic selection without user namespaces", () => {
  test(
    `${DISABLE}=userns: burrow picks runc by itself and says why under --debug`,
    needs("runc"),
    async () => {
      const r = await burrow(["run", "--debug", image, ...PROBE], { env: { [DISABLE]: "userns" } });
      assert.equal(r.code, 0, show(r));
      assert.match(
        r.stderr,
        /^burrow: debug: engine runc \(userns: disabled by BURROW_TEST_DISABLE_ENGINES/m,
      );
      assert.equal(tracerPid(r.stdout), 0);
    },
  );

  test(`${DISABLE}=userns,runc: burrow picks proot`, needs("proot"), async () => {
    const r = await burrow(["run", "--debug", image, ...PROBE], { env: { [DISABLE]: "userns,runc" } });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /^burrow: debug: engine proot \(userns: .*; runc: .*\)$/m);
    assert.notEqual(tracerPid(r.stdout), 0);
  });

  test("burrow info reports the disabled engine as unusable, with the reason", async () => {
    const r = await burrow(["info", "--format", "json"], { env: { [DISABLE]: "userns" } });
    const info = JSON.parse(ok(r)) as { engines: { name: string; usable: boolean; reason: string | null }[] };
    const userns = info.engines.find((e) => e.name === "userns");
    assert.equal(userns?.usable, false);
    assert.match(userns?.reason ?? "", /BURROW_TEST_DISABLE_ENGINES/);
  });
});
