// burrow run's exit status and what a run leaves behind, per engine and layer mode, as the unprivileged
// test user: the program's status (128+N for a signal), no background process outliving the run, and a
// run killed with SIGKILL takes its container down and leaves a scratch that the next command sweeps,
// while a concurrent live run keeps its own.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { makeTestHome, spawnBurrow, testEnv } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { TEST_ENGINES, burrowIn, ok, plainRegistryEnv, pullAlpine, show } from "../harness/suite.js";

let home: TestHome;
let image = "";
const burrow = burrowIn(() => home);

before(async () => {
  home = await makeTestHome();
  // fuse-overlayfs needs /dev/fuse open to the user: the harness opens it for the run (test/harness/run.ts).
  image = await pullAlpine(burrow, "exit-status");
});

after(async () => {
  // Whatever a failed test left running is ended, so that it does not outlive the file.
  for (const p of userProcesses((argv) => argv[0] === "sleep" && markers.has(argv[1] ?? ""))) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
  await home?.cleanup();
});

/** The sleep lengths this file uses as markers: each test's background processes are found by them. */
const markers = new Set<string>();
let nextMarker = 20_000 + Math.floor(Math.random() * 5_000) * 10;

/** A fresh `sleep` length, unique to this file's run (other test files run as the same user); +1 is its too. */
function marker(): string {
  const m = String(nextMarker);
  nextMarker += 10;
  markers.add(m);
  markers.add(String(nextMarker - 9));
  return m;
}

/** The test user's processes whose argv `match` accepts (the host's /proc, so any engine's). */
function userProcesses(match: (argv: string[]) => boolean): { pid: number; argv: string[] }[] {
  const uid = testEnv().user.uid;
  const out: { pid: number; argv: string[] }[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const st = fs.statSync(`/proc/${name}`);
      if (st.uid !== uid) continue;
      const status = fs.readFileSync(`/proc/${name}/status`, "utf8");
      if (/^State:\s+Z/m.test(status)) continue;
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").slice(0, -1);
      if (match(argv)) out.push({ pid: Number(name), argv });
    } catch {
      // It exited meanwhile.
    }
  }
  return out;
}

/** The test user's processes running `sleep M` for one of `ms`, or the fuse-overlayfs of a scratch in `dirs`. */
function leftovers(ms: string[], dirs: string[] = []): string[] {
  return userProcesses(
    (argv) =>
      (argv[0] === "sleep" && ms.includes(argv[1] ?? "")) ||
      (/fuse-overlayfs$/.test(argv[0] ?? "") && dirs.some((d) => argv.join(" ").includes(d))),
  ).map((p) => `${p.pid}: ${p.argv.join(" ")}`);
}

/** Resolves when `cond()` holds, polling; rejects with `what()` after `ms`. */
async function waitFor(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The store's tmp/, where runs keep their scratch folders (the tests set no TMPDIR). */
const storeTmp = (): string => path.join(home.burrowDir, "tmp");

/** The scratch folders in the store's tmp/ made by burrow process `pid` (their names carry it). */
function scratchOf(pid: number): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(storeTmp());
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith("burrow-run-") && n.includes(`-${pid}-`));
}

/** A `burrow run` started in the background; `ready` resolves once the program printed "ready". */
async function startRun(
  args: string[],
  env: Record<string, string> = {},
): Promise<{
  pid: number;
  kill(sig: NodeJS.Signals): void;
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>;
}> {
  const child = await spawnBurrow(["run", ...args], { home, env: { ...plainRegistryEnv(), ...env } });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  child.stdin.end();
  let exited = false;
  const closed = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    out: string;
    err: string;
  }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, out, err })));
  void closed.then(() => (exited = true));
  await waitFor(
    () => out.includes("ready") || exited,
    90_000,
    () => `"ready" (stdout ${out}, stderr ${err})`,
  );
  assert.ok(!exited, `burrow run ended before its program was ready: stdout ${out}, stderr ${err}`);
  return { pid: child.pid!, kill: (sig) => child.kill(sig), closed };
}

/** The layer modes each engine runs an unnamed image with: its default, and the others it has. */
const LAYERS: Record<string, string[]> = {
  userns: ["overlay", "copy", "fuse"],
  runc: ["overlay", "copy"],
  proot: ["copy"],
};

/** BURROW_LAYER for a layer mode ("overlay" is the default: none set). */
const layerEnv = (layer: string): Record<string, string> =>
  layer === "overlay" ? {} : { BURROW_LAYER: layer };

for (const engine of TEST_ENGINES) {
  const run = (args: string[], env: Record<string, string> = {}) =>
    burrow(["run", "--engine", engine, ...args], { env, timeoutMs: 60_000 });

  describe(`burrow run --engine ${engine}: statuses and leftovers`, () => {
    for (const layer of LAYERS[engine] ?? ["overlay"]) {
      test(`exit 3 with a background sleep returns 3 at once, and the sleep is gone (layer ${layer})`, async () => {
        const m = marker();
        const t0 = Date.now();
        const r = await run([image, "sh", "-c", `sleep ${m} & exit 3`], layerEnv(layer));
        const took = Date.now() - t0;
        assert.equal(r.code, 3, show(r));
        assert.ok(took < 5000, `the run took ${took} ms: it waited for the background sleep`);
        assert.deepEqual(leftovers([m]), [], "the program's background sleep outlived the run");
        assert.deepEqual(
          fs.readdirSync(storeTmp()).filter((n) => n.startsWith("burrow-run-")),
          [],
          "the run removed its scratch",
        );
      });
    }

    test("a named container's background process goes with its program too", async () => {
      const m = marker();
      const name = `exit-${engine}-${m}`;
      const r = await run(["--name", name, image, "sh", "-c", `sleep ${m} & exit 4`]);
      assert.equal(r.code, 4, show(r));
      assert.deepEqual(leftovers([m]), []);
      ok(await burrow(["rm", name]));
    });

    test("a program killed by a signal gives 128 + its number", async () => {
      for (const [sig, status] of [
        ["SEGV", 139],
        ["KILL", 137],
        ["TERM", 143],
      ] as const) {
        const r = await run([image, "sh", "-c", `kill -${sig} $$`]);
        assert.equal(r.code, status, `kill -${sig}: ${show(r)}`);
      }
    });

    for (const [sig, status] of [
      ["SIGTERM", 143],
      ["SIGINT", 130],
      ["SIGHUP", 129],
    ] as const) {
      test(`${sig} to burrow run ends the program: ${status}, and nothing of the run is left`, async () => {
        const m = marker();
        const r = await startRun([
          "--engine",
          engine,
          image,
          "sh",
          "-c",
          `sleep ${m} & echo ready; sleep ${Number(m) + 1}`,
        ]);
        r.kill(sig);
        const timer = setTimeout(() => r.kill("SIGKILL"), 20_000);
        const end = await r.closed;
        clearTimeout(timer);
        assert.equal(end.code, status, `exit ${end.code} ${end.signal ?? ""}, stderr: ${end.err}`);
        assert.deepEqual(leftovers([m, String(Number(m) + 1)]), []);
        assert.deepEqual(scratchOf(r.pid), [], "the run removed its scratch");
      });
    }

    for (const layer of LAYERS[engine] ?? ["overlay"]) {
      test(`kill -9 of burrow run takes its container down; the next command sweeps its scratch, not a live run's (layer ${layer})`, async () => {
        const env = layerEnv(layer);
        const [m, live] = [marker(), marker()];
        // A concurrent run that stays alive through the sweep.
        const other = await startRun(
          ["--engine", engine, image, "sh", "-c", `echo ready; sleep ${live}`],
          env,
        );
        const victim = await startRun(
          ["--engine", engine, image, "sh", "-c", `sleep ${m} & echo ready; sleep ${Number(m) + 1}`],
          env,
        );
        const victimScratch = scratchOf(victim.pid);
        assert.equal(victimScratch.length, 1, `the run's scratch: ${fs.readdirSync(storeTmp()).join(" ")}`);
        const dirs = [...victimScratch, ...scratchOf(other.pid)];
        victim.kill("SIGKILL");
        await victim.closed;
        await waitFor(
          () => leftovers([m, String(Number(m) + 1)], victimScratch).length === 0,
          5000,
          () =>
            `the killed run's processes to go: ${leftovers([m, String(Number(m) + 1)], victimScratch).join("; ")}`,
        );
        assert.deepEqual(scratchOf(victim.pid), victimScratch, "nothing removed the scratch yet");

        ok(await burrow(["images"]));
        assert.deepEqual(scratchOf(victim.pid), [], "the next command removed the killed run's scratch");
        assert.equal(scratchOf(other.pid).length, 1, "the live run's scratch is kept");
        assert.equal(leftovers([live]).length, 1, "the live run still runs");

        other.kill("SIGTERM");
        const end = await other.closed;
        assert.equal(end.code, 143, end.err);
        assert.deepEqual(scratchOf(other.pid), []);
        assert.deepEqual(leftovers([live], dirs), []);
      });
    }
  });
}

test("the host afterwards: no process of this file's runs, no scratch and no runc state in the store", () => {
  assert.deepEqual(leftovers([...markers]), []);
  const names = fs.existsSync(storeTmp()) ? fs.readdirSync(storeTmp()) : [];
  assert.deepEqual(
    names.filter((n) => n.includes("burrow-run-") || n.startsWith("snapshot-")),
    [],
  );
  for (const flavor of ["runc", "crun"]) {
    const dir = path.join(home.burrowDir, "run", flavor);
    assert.deepEqual(fs.existsSync(dir) ? fs.readdirSync(dir) : [], [], `${dir} is empty`);
  }
});
