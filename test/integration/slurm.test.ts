// burrow under a real single-node Slurm (test/harness/slurm.ts), jobs submitted as the unprivileged test
// user: a job array on a cold shared store (one download of each blob), the scheduler's variables inside
// the container, a task cancelled mid-pull followed by a clean run, and per-run scratch on node-local tmp.
import { test, before, after } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { testEnv, makeTestHome, burrowEnv, asTestUser, chownToTestUser, runBurrow } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { layerFromEntries, layerFromTarball, pushImage, uniqueRepo } from "../harness/image-builder.js";
import type { Layer } from "../harness/image-builder.js";
import { runProgram } from "../harness/proc.js";
import type { ProcResult } from "../harness/proc.js";
import { startSlurm } from "../harness/slurm.js";
import type { Slurm } from "../harness/slurm.js";
import { startFaultProxy } from "./fault-proxy.js";
import type { FaultProxy } from "./fault-proxy.js";
import { installBurrowCommand } from "../harness/suite.js";

/** Tasks in the array; the node offers as many CPUs, so all of them start at once. */
const TASKS = 20;
/** What /somefile holds in the image (written by the top layer over an older one). */
const SOMEFILE = "the file from the top layer";

/**
 * The Slurm daemons run as root: a harness run as another user (which runs the CLI as itself) skips
 * these tests and says why. A missing Slurm program on a root run is a failure (startSlurm names it).
 */
const SKIP = process.getuid?.() === 0 ? false : "the Slurm daemons need root: run the harness as root";

const env = () => testEnv();
let slurm: Slurm;
let home: TestHome;
let repo: string;
/** The layers of the array image, bottom first. */
let layers: Layer[];
let configDigest: string;

before(async () => {
  if (SKIP) return;
  home = await makeTestHome();
  // A `burrow` on the job's PATH, as a site install gives one.
  await installBurrowCommand(home);
  repo = uniqueRepo("slurm");
  // Several layers, so that the tasks that wait for the first one meet a many-layer flatten: Alpine,
  // then a layer with an incompressible file and an early /somefile, then one that replaces /somefile
  // and deletes a file of the layer below (a whiteout).
  layers = [
    await layerFromTarball(env().alpine),
    await layerFromEntries([
      { path: "data/", type: "dir" },
      { path: "data/random", type: "file", content: randomBytes(2 << 20) },
      { path: "data/gone", type: "file", content: "deleted above" },
      { path: "somefile", type: "file", content: "the file from the middle layer\n" },
    ]),
    await layerFromEntries(
      [
        { path: "somefile", type: "file", content: `${SOMEFILE}\n` },
        { path: "data/.wh.gone", type: "file", content: "" },
      ],
      "zstd",
    ),
  ];
  configDigest = (await pushImage("plain", repo, "v1", layers)).configDigest;
  slurm = await startSlurm((l) => process.stdout.write(`# ${l}\n`), { cpus: TASKS, killWait: 3 });
});

after(async () => {
  await slurm?.stop();
  await home?.cleanup();
});

/** The environment of the test user's shell on a login node: the home, burrow on PATH, Slurm's config. */
function jobEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const e = burrowEnv(home.dir, extra);
  return { ...e, PATH: `${path.join(home.dir, "bin")}:${e.PATH}`, ...slurm.env };
}

/** Runs a Slurm client command (sbatch, srun, squeue, scancel) as the test user, in the test home. */
function client(
  argv: string[],
  extra: Record<string, string | undefined> = {},
  timeoutMs = 300_000,
): Promise<ProcResult> {
  const [cmd, ...args] = asTestUser(argv);
  return runProgram(cmd!, args, { env: jobEnv(extra), cwd: home.dir, timeoutMs, allowFailure: true });
}

/** A fresh folder owned by the test user inside its home. */
async function userDir(name: string): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(home.dir, `${name}-`));
  await chownToTestUser(dir);
  return dir;
}

/** Writes a job script (owned by the test user) and returns its path. */
async function script(dir: string, name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await fsp.writeFile(file, text, { mode: 0o755 });
  await chownToTestUser(file);
  return file;
}

/** Submits a batch job and returns its id. */
async function sbatch(args: string[], extra: Record<string, string | undefined> = {}): Promise<string> {
  const r = await client(["sbatch", "--parsable", ...args], extra);
  assert.equal(r.code, 0, `sbatch failed: ${r.stderr}`);
  return r.stdout.trim().split(";")[0]!;
}

/** Waits until job `id` (every task of an array) has left the queue. */
async function waitJob(id: string, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await client(["squeue", "-h", "-j", id, "-o", "%i %T"]);
    if (r.code === 0 && r.stdout.trim() === "") return;
    if (Date.now() > deadline)
      throw new Error(`job ${id} still queued after ${timeoutMs} ms:\n${r.stdout}\n${await slurm.logs()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** One array task's timings (seconds since the epoch) and burrow's exit status. */
interface TaskTiming {
  task: number;
  start: number;
  end: number;
  status: number;
}

/** The array job: each task runs burrow on the shared store and records when it ran. */
const ARRAY_SCRIPT = `#!/bin/sh
#SBATCH --job-name=burrow-array
t0=$(date +%s.%N)
burrow run "$IMAGE" sh -c 'echo task $SLURM_ARRAY_TASK_ID; cat /somefile'
rc=$?
t1=$(date +%s.%N)
echo "$SLURM_ARRAY_TASK_ID $t0 $t1 $rc" > "$RESULTS/time-$SLURM_ARRAY_TASK_ID"
exit $rc
`;

/** Runs the array once on `store`; returns the wall time seen from the submit host and each task's timing. */
async function runArray(
  store: string,
  image: string,
  proxy: FaultProxy,
  label: string,
): Promise<{ wall: number; submitted: number; tasks: TaskTiming[]; results: string }> {
  const results = await userDir(`array-${label}`);
  const file = await script(results, "array.sh", ARRAY_SCRIPT);
  const extra = { BURROW_DIR: store, BURROW_INSECURE_REGISTRIES: proxy.host, IMAGE: image, RESULTS: results };
  const t0 = Date.now();
  const id = await sbatch(
    [`--array=1-${TASKS}`, `--output=${results}/%a.out`, `--error=${results}/%a.err`, file],
    extra,
  );
  await waitJob(id);
  const wall = (Date.now() - t0) / 1000;
  const tasks: TaskTiming[] = [];
  for (let i = 1; i <= TASKS; i++) {
    const text = await fsp.readFile(path.join(results, `time-${i}`), "utf8").catch(() => "");
    const [task, start, end, status] = text.trim().split(" ").map(Number);
    const err = await fsp.readFile(path.join(results, `${i}.err`), "utf8").catch(() => "(no error file)");
    assert.equal(task, i, `task ${i} left no timing; its stderr:\n${err}\n${await slurm.logs()}`);
    assert.equal(status, 0, `task ${i}: burrow run exited with ${status}; its stderr:\n${err}`);
    tasks.push({ task: i, start: start!, end: end!, status: status! });
  }
  return { wall, submitted: t0 / 1000, tasks, results };
}

/** Minimum, median and maximum of `xs`, in seconds. */
function spread(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (x: number): string => x.toFixed(2);
  return `min ${f(s[0]!)} s, median ${f(s[Math.floor(s.length / 2)]!)} s, max ${f(s[s.length - 1]!)} s`;
}

/** Prints an array run's figures in the test output. */
function report(
  t: TestContext,
  label: string,
  run: { wall: number; submitted: number; tasks: TaskTiming[] },
): void {
  const first = Math.min(...run.tasks.map((x) => x.start));
  const last = Math.max(...run.tasks.map((x) => x.end));
  t.diagnostic(
    `${label}: ${TASKS}-task array wall time ${run.wall.toFixed(2)} s from sbatch to an empty queue, ` +
      `${(last - first).toFixed(2)} s from the first task's start to the last task's end`,
  );
  t.diagnostic(
    `${label}: the first task started ${(first - run.submitted).toFixed(2)} s after sbatch (Slurm's own ` +
      `scheduling); task start after the first task: ${spread(run.tasks.map((x) => x.start - first))}`,
  );
  t.diagnostic(`${label}: burrow run per task: ${spread(run.tasks.map((x) => x.end - x.start))}`);
  t.diagnostic(
    `${label}: per task (id: start offset / burrow run s): ` +
      run.tasks
        .map((x) => `${x.task}: ${(x.start - first).toFixed(2)}/${(x.end - x.start).toFixed(2)}`)
        .join(", "),
  );
}

test(
  `a ${TASKS}-task array on a cold shared store: every task succeeds, each blob is downloaded once`,
  { skip: SKIP },
  async (t) => {
    const proxy = await startFaultProxy(env().registries.plain.host);
    try {
      const store = path.join(await userDir("shared"), "store");
      const image = `${proxy.host}/${repo}:v1`;
      const cold = await runArray(store, image, proxy, "cold");
      report(t, "cold store", cold);
      for (const l of layers) {
        assert.equal(
          proxy.blobGets.get(l.digest),
          1,
          `layer ${l.digest} was downloaded once by ${TASKS} tasks`,
        );
      }
      assert.equal(
        proxy.blobGets.get(configDigest),
        1,
        `the config blob ${configDigest} was downloaded once by ${TASKS} tasks`,
      );
      const images = fs.readdirSync(path.join(store, "images")).filter((n) => !n.startsWith("."));
      assert.equal(images.length, 1, `one image in the store, no half-built ones: ${images.join(" ")}`);
      const locks = fs.readdirSync(path.join(store, "locks")).filter((n) => n.includes(".lock"));
      assert.deepEqual(locks, [], "no lock is left behind");
      for (let i = 1; i <= TASKS; i++) {
        const out = await fsp.readFile(path.join(cold.results, `${i}.out`), "utf8");
        assert.ok(out.endsWith(`${SOMEFILE}\n`), `task ${i} read /somefile from the top layer: ${out}`);
      }

      // The same array again on the now warm store: no request reaches the registry.
      const gets = [...proxy.blobGets.values()].reduce((a, b) => a + b, 0);
      const warm = await runArray(store, image, proxy, "warm");
      report(t, "warm store", warm);
      assert.equal(
        [...proxy.blobGets.values()].reduce((a, b) => a + b, 0),
        gets,
        "the warm array fetched no blob",
      );

      // Each task's own id comes from the scheduler's environment inside the container.
      for (const run of [cold, warm]) {
        for (let i = 1; i <= TASKS; i++) {
          const out = await fsp.readFile(path.join(run.results, `${i}.out`), "utf8");
          assert.equal(out, `task ${i}\n${SOMEFILE}\n`, `task ${i}'s output`);
        }
      }
    } finally {
      await proxy.close();
    }
  },
);

test("SLURM_* variables of the job reach the program in the container", { skip: SKIP }, async () => {
  const work = await userDir("env");
  const store = path.join(work, "store");
  const image = `${env().registries.plain.host}/${repo}:v1`;
  const extra = { BURROW_DIR: store, BURROW_INSECURE_REGISTRIES: env().registries.plain.host, IMAGE: image };
  const inner = 'echo "inside $SLURM_JOB_ID $SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID $SLURM_PROCID"';
  const file = await script(
    work,
    "env.sh",
    `#!/bin/sh\necho "outside $SLURM_JOB_ID $SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID $SLURM_PROCID"\n` +
      `burrow run "$IMAGE" sh -c '${inner}'\n`,
  );
  const id = await sbatch(["--array=3", `--output=${work}/%a.out`, `--error=${work}/%a.err`, file], extra);
  await waitJob(id);
  const out = await fsp.readFile(path.join(work, "3.out"), "utf8").catch(() => "");
  const err = await fsp.readFile(path.join(work, "3.err"), "utf8").catch(() => "");
  const outside = /^outside (.*)$/m.exec(out)?.[1];
  assert.ok(outside?.match(/^\d+ \d+ 3 0$/), `the job sees its variables: ${out}\n${err}`);
  assert.equal(
    /^inside (.*)$/m.exec(out)?.[1],
    outside,
    `the container sees the same values: ${out}\n${err}`,
  );
});

/** How the kill tests cancel the task: as a time limit or `scancel` does, and with no warning at all. */
const CANCELS = [
  { how: "scancel (SIGTERM, SIGKILL after KillWait)", args: [] as string[] },
  { how: "scancel --full --signal=KILL (no warning)", args: ["--full", "--signal=KILL"] },
];

for (const cancel of CANCELS) {
  test(
    `a task cancelled mid-pull by ${cancel.how} leaves nothing that blocks the next run`,
    { skip: SKIP },
    async (t) => {
      const kRepo = uniqueRepo("slurm-kill");
      // Random bytes do not compress: the layer stays 8 MiB, slow enough through the throttled proxy.
      const big = await layerFromEntries([{ path: "big", type: "file", content: randomBytes(8 << 20) }]);
      const small = await layerFromEntries([
        { path: "etc/hello", type: "file", content: "hello from the image\n" },
      ]);
      await pushImage("plain", kRepo, "v1", [await layerFromTarball(env().alpine), big, small]);
      const proxy = await startFaultProxy(env().registries.plain.host, { throttleMs: 100 });
      try {
        const work = await userDir("kill");
        const store = path.join(work, "store");
        const image = `${proxy.host}/${kRepo}:v1`;
        const extra = { BURROW_DIR: store, BURROW_INSECURE_REGISTRIES: proxy.host, IMAGE: image };
        const file = await script(work, "pull.sh", `#!/bin/sh\nexec burrow run "$IMAGE" cat /etc/hello\n`);
        const id = await sbatch([`--output=${work}/killed.out`, file], extra);

        // Wait until the big layer is being written, and note who holds its lock.
        const blobs = path.join(store, "blobs", "sha256");
        const lockDir = path.join(store, "locks", `blob-${big.digest.slice(7)}.lock`);
        const deadline = Date.now() + 60_000;
        let partial: string | undefined;
        while (Date.now() < deadline) {
          partial = fs.existsSync(blobs)
            ? fs.readdirSync(blobs).find((n) => n.startsWith(big.digest.slice(7)) && n.includes("partial"))
            : undefined;
          if (
            partial &&
            fs.statSync(path.join(blobs, partial)).size > 0 &&
            fs.existsSync(path.join(lockDir, "owner"))
          )
            break;
          partial = undefined;
          await new Promise((res) => setTimeout(res, 50));
        }
        assert.ok(
          partial,
          `the big layer's download started: ${await fsp.readFile(path.join(work, "killed.out"), "utf8").catch(() => "")}`,
        );
        const holder = (JSON.parse(fs.readFileSync(path.join(lockDir, "owner"), "utf8")) as { pid: number })
          .pid;

        const cancelled = Date.now();
        const c = await client(["scancel", ...cancel.args, id]);
        assert.equal(c.code, 0, c.stderr);
        await waitJob(id, 60_000);
        const alive = (): boolean => {
          try {
            process.kill(holder, 0);
            return true;
          } catch {
            return false;
          }
        };
        while (alive() && Date.now() - cancelled < 30_000) await new Promise((res) => setTimeout(res, 50));
        assert.ok(!alive(), "the cancelled task's burrow is gone");
        const lockLeft = fs.existsSync(lockDir);
        t.diagnostic(
          `${cancel.how}: the task left the queue and its burrow exited ` +
            `${((Date.now() - cancelled) / 1000).toFixed(2)} s after scancel; ` +
            (lockLeft ? "its blob lock is left behind, held by a dead process" : "it released its blob lock"),
        );
        if (cancel.args.includes("--signal=KILL"))
          assert.ok(lockLeft, "a task killed without warning leaves its lock");
        const images = fs.readdirSync(path.join(store, "images")).filter((n) => !n.startsWith("."));
        assert.deepEqual(images, [], "no half-built image is visible");

        // The next task on the same store: runs at once (the dead holder's lock is broken, not waited out).
        proxy.plan.throttleMs = 0;
        const t0 = Date.now();
        const next = await client(["srun", "-n", "1", "burrow", "run", image, "cat", "/etc/hello"], extra);
        const took = (Date.now() - t0) / 1000;
        assert.equal(next.code, 0, next.stderr);
        assert.equal(next.stdout, "hello from the image\n");
        t.diagnostic(`${cancel.how}: the next task pulled and ran the image in ${took.toFixed(2)} s`);
        assert.ok(took < 25, `the next run did not wait out the lock's staleness timeout (${took} s)`);
        assert.deepEqual(
          fs.readdirSync(blobs).filter((n) => n.includes("partial")),
          [],
          "the killed download's partial file is gone",
        );
        assert.deepEqual(
          fs.readdirSync(path.join(store, "locks")).filter((n) => n.includes(".lock")),
          [],
          "no lock is left behind",
        );
        const v = await runBurrow(["verify", image], { home, env: { BURROW_DIR: store } });
        assert.equal(v.code, 0, `burrow verify: ${v.stdout}${v.stderr}`);
      } finally {
        await proxy.close();
      }
    },
  );
}

/** The job that runs one container and looks at the store and the scratch folder while it runs. */
const SCRATCH_SCRIPT = `#!/bin/sh
set -e
burrow run "$IMAGE" true
ls -A "$BURROW_DIR/tmp" > "$SYNC/store-tmp-before"
burrow run -v "$SYNC:/sync" "$IMAGE" sh -c 'cat /proc/self/mountinfo > /sync/mountinfo; touch /sync/ready; while [ ! -e /sync/go ]; do sleep 0.1; done' &
pid=$!
while [ ! -e "$SYNC/ready" ]; do sleep 0.05; done
ls -A "$BURROW_DIR/tmp" > "$SYNC/store-tmp-during"
ls -A "$LOCAL" > "$SYNC/local-during"
touch "$SYNC/go"
wait $pid
ls -A "$LOCAL" > "$SYNC/local-after"
`;

for (const variable of ["BURROW_TMPDIR", "TMPDIR"] as const) {
  test(
    `per-run scratch goes to the node-local ${variable}, not to the shared store`,
    { skip: SKIP },
    async (t) => {
      const work = await userDir(`scratch-${variable}`);
      const store = path.join(work, "store");
      const sync = await userDir(`sync-${variable}`);
      // Node-local temporary space: the system's tmp, not the home the store sits in.
      const local = await fsp.mkdtemp(path.join(os.tmpdir(), "nodelocal-"));
      await chownToTestUser(local);
      try {
        const image = `${env().registries.plain.host}/${repo}:v1`;
        const extra = {
          BURROW_DIR: store,
          BURROW_INSECURE_REGISTRIES: env().registries.plain.host,
          IMAGE: image,
          SYNC: sync,
          LOCAL: local,
          BURROW_TMPDIR: variable === "BURROW_TMPDIR" ? local : undefined,
          TMPDIR: variable === "TMPDIR" ? local : undefined,
        };
        const file = await script(work, "scratch.sh", SCRATCH_SCRIPT);
        const r = await client(["srun", "-n", "1", file], extra);
        assert.equal(r.code, 0, `the job failed: ${r.stdout}${r.stderr}`);
        const lines = (f: string): string[] =>
          fs.readFileSync(path.join(sync, f), "utf8").split("\n").filter(Boolean).sort();
        assert.deepEqual(
          lines("store-tmp-during"),
          lines("store-tmp-before"),
          "nothing was made in the store's tmp/",
        );
        const during = lines("local-during");
        assert.equal(during.length, 1, `one scratch folder in ${local} during the run: ${during.join(" ")}`);
        assert.match(during[0]!, /^burrow-run-/);
        assert.deepEqual(lines("local-after"), [], "the scratch folder is removed after the run");
        // Seen from inside: the root's overlay keeps its writable layer in that folder.
        const root = fs
          .readFileSync(path.join(sync, "mountinfo"), "utf8")
          .split("\n")
          .find((l) => l.split(" ")[4] === "/");
        const upper = /upperdir=([^,\s]+)/.exec(root ?? "")?.[1];
        t.diagnostic(`the container's root: ${root}`);
        if (root?.includes(" - overlay ")) {
          assert.ok(
            upper?.startsWith(`${local}/burrow-run-`),
            `the overlay's upperdir ${upper} is under ${local}`,
          );
        }
      } finally {
        await fsp.rm(local, { recursive: true, force: true });
      }
    },
  );
}
