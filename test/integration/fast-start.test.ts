// The fast start of `burrow run` (issue 12): the second run of a command line starts from its replay
// record through burrow-ns --replay, without Node, and does what the run path does; anything the plan
// depends on that changed (the image a name points to, a variable burrow reads, the record's trust)
// sends it through Node again. Run through the package's launcher (dist/src/cli/burrow.cjs), as the
// `burrow` command runs, with a `node` first on PATH that counts its starts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { asTestUser, burrowEnv, chownToTestUser, makeTestHome, testEnv } from "../harness/env.js";
import type { BurrowResult, TestHome } from "../harness/env.js";
import { burrowIn, ok, plainRegistryEnv, pullAlpine, pushAlpine, show } from "../harness/suite.js";

let home: TestHome;
const burrow = burrowIn(() => home);
let launcher: string;
let countingPath: string;
let one: string;
let two: string;

before(async () => {
  home = await makeTestHome();
  launcher = path.join(path.dirname(testEnv().cli), "burrow.cjs");
  // A `node` that notes each start, then runs the real one.
  const bin = path.join(home.dir, "node-bin");
  fs.mkdirSync(bin);
  fs.writeFileSync(
    path.join(bin, "node"),
    `#!/bin/sh\necho start >> "$HOME/node-starts"\nexec ${JSON.stringify(process.execPath)} "$@"\n`,
    { mode: 0o755 },
  );
  await chownToTestUser(bin);
  countingPath = `${bin}:${burrowEnv(home.dir).PATH}`;
  one = await pullAlpine(burrow, "fast-one", { env: ["MARK=one"] });
  two = await pullAlpine(burrow, "fast-two", { env: ["MARK=two"] });
});
after(async () => {
  await home?.cleanup();
});

/** Runs still going when the test process exits (a failed test) are killed. */
const live = new Set<ReturnType<typeof spawn>>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

/** Node's starts so far. */
function nodeStarts(): number {
  try {
    return fs.readFileSync(path.join(home.dir, "node-starts"), "utf8").split("\n").length - 1;
  } catch {
    return 0;
  }
}

/** `burrow ...args` through the launcher as the test user; `node` says whether Node started. */
async function launch(
  args: string[],
  env: Record<string, string | undefined> = {},
  onStart?: (pid: number) => void,
): Promise<BurrowResult & { node: boolean }> {
  const before = nodeStarts();
  const argv = asTestUser([launcher, ...args]);
  const child = spawn(argv[0]!, argv.slice(1), {
    env: burrowEnv(home.dir, { ...plainRegistryEnv(), PATH: countingPath, ...env }),
    cwd: home.dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  child.once("exit", () => live.delete(child));
  if (onStart !== undefined && child.pid !== undefined) onStart(child.pid);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => out.push(b));
  child.stderr.on("data", (b: Buffer) => err.push(b));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on("close", (c, s) => resolve([c, s])),
  );
  return {
    args,
    code,
    signal,
    stdout: Buffer.concat(out).toString(),
    stderr: Buffer.concat(err).toString(),
    node: nodeStarts() > before,
  };
}

/** What a run leaves in the store: scratch folders and holds (none once it is over). */
function leftovers(): string[] {
  const tmp = path.join(home.burrowDir, "tmp");
  const holds = path.join(home.burrowDir, "holds");
  const list = (d: string): string[] => (fs.existsSync(d) ? fs.readdirSync(d) : []);
  return [...list(tmp).filter((n) => n.startsWith("burrow-run-")), ...list(holds)];
}

/** Resolves once `file` exists (the program inside has started), or after 30 s. */
async function appears(file: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!fs.existsSync(file) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

/** The replay records of the test user. */
function records(): string[] {
  const dir = path.join(home.dir, ".cache", "burrow", "replay");
  return fs.existsSync(dir) ? fs.readdirSync(dir).map((n) => path.join(dir, n)) : [];
}

test("the second run of a command line starts without Node and does the same", async () => {
  const args = ["run", one, "sh", "-c", 'echo "$MARK $(id -u) $(pwd)"; ls /proc/self >/dev/null; exit 7'];
  const first = await launch(args);
  assert.equal(first.code, 7, show(first));
  assert.equal(first.stdout, "one 0 /\n");
  assert.ok(first.node, "the first run goes through Node");
  assert.equal(records().length, 1, "the first run leaves its record");
  const again = await launch(args);
  assert.equal(again.code, 7, show(again));
  assert.equal(again.stdout, first.stdout);
  assert.equal(again.stderr, "");
  assert.ok(!again.node, "the second run does not start Node");
  assert.deepEqual(leftovers(), [], "no scratch folder or hold is left");
  // Another command line is another record.
  const other = await launch(["run", one, "true"]);
  assert.equal(other.code, 0, show(other));
  assert.ok(other.node);
});

test("a name that points to another image, or a variable burrow reads, sends the run through Node", async () => {
  ok(await burrow(["tag", one, "fast:moved"]));
  const args = ["run", "fast:moved", "sh", "-c", 'echo "$MARK"'];
  assert.equal((await launch(args)).stdout, "one\n");
  assert.ok(!(await launch(args)).node);
  ok(await burrow(["tag", two, "fast:moved"]));
  const moved = await launch(args);
  assert.equal(moved.stdout, "two\n", show(moved));
  assert.ok(moved.node, "the moved name is read again");
  assert.ok(!(await launch(args)).node, "and recorded again");

  // BURROW_TMPDIR moves the scratch folder: a variable the run path reads.
  const tmpdir = path.join(home.dir, "other-tmp");
  fs.mkdirSync(tmpdir);
  await chownToTestUser(tmpdir);
  const elsewhere = await launch(args, { BURROW_TMPDIR: tmpdir });
  assert.equal(elsewhere.stdout, "two\n");
  assert.ok(elsewhere.node);
  // A variable burrow does not read (hyperfine adds a random one) changes nothing.
  const unrelated = await launch(args, { BURROW_TMPDIR: tmpdir, SOME_RANDOM_VALUE: "x".repeat(17) });
  const unrelated2 = await launch(args, { BURROW_TMPDIR: tmpdir, SOME_RANDOM_VALUE: "y" });
  assert.equal(unrelated2.stdout, "two\n");
  assert.ok(unrelated.node, "a new variable name is a new key");
  assert.ok(!unrelated2.node, "a new value of a variable burrow does not read is not");
  assert.deepEqual(fs.readdirSync(tmpdir), []);

  // BURROW_FAST_START=0: always Node.
  const off = ["run", "fast:moved", "true"];
  await launch(off, { BURROW_FAST_START: "0" });
  assert.ok((await launch(off, { BURROW_FAST_START: "0" })).node);
});

test("the ranks of a job share a record, each with its own variables", async () => {
  const args = ["run", one, "sh", "-c", 'echo "rank $SLURM_PROCID of $SLURM_NTASKS"'];
  const rank0 = await launch(args, { SLURM_PROCID: "0", SLURM_NTASKS: "2" });
  assert.equal(rank0.stdout, "rank 0 of 2\n", show(rank0));
  const rank1 = await launch(args, { SLURM_PROCID: "1", SLURM_NTASKS: "2" });
  assert.equal(rank1.stdout, "rank 1 of 2\n", show(rank1));
  assert.ok(!rank1.node, "rank 1 replays rank 0's record");
});

test("a record that is not the user's own, or that others may write, is not used", async () => {
  const args = ["run", one, "echo", "trusted"];
  await launch(args);
  assert.ok(!(await launch(args)).node);
  const [record] = records().filter((r) => fs.readFileSync(r, "latin1").includes("trusted"));
  assert.ok(record !== undefined);
  fs.chmodSync(record, 0o620);
  const writable = await launch(args);
  assert.equal(writable.stdout, "trusted\n");
  assert.ok(writable.node, "a group-writable record is ignored");
  // Recorded again (0600); now owned by root: ignored too.
  assert.equal(fs.statSync(record).mode & 0o777, 0o600);
  fs.chownSync(record, 0, 0);
  fs.chmodSync(record, 0o644);
  const foreign = await launch(args);
  assert.equal(foreign.stdout, "trusted\n");
  assert.ok(foreign.node, "a record of another user is ignored");
});

/** A record's fields, `TAG LEN\nBYTES\n` each. */
function fields(record: Buffer): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (let at = 0; at < record.length;) {
    const nl = record.indexOf(10, at);
    const [tag, len] = record.toString("latin1", at, nl).split(" ");
    out.push([tag!, record.subarray(nl + 1, nl + 1 + Number(len))]);
    at = nl + 2 + Number(len);
  }
  return out;
}

test("a record whose files would leave the scratch folder writes nothing outside it", async () => {
  const args = ["run", one, "echo", "confined"];
  await launch(args);
  const [record] = records().filter((r) => fs.readFileSync(r, "latin1").includes("confined"));
  assert.ok(record !== undefined);
  const escape = path.join(home.dir, "escaped");
  const rewritten = fields(fs.readFileSync(record)).map(([tag, data]): [string, Buffer] =>
    tag === "F"
      ? [
          tag,
          Buffer.concat([Buffer.from(`../../../../../../../..${escape}\u0000644\u0000`), Buffer.from("x")]),
        ]
      : [tag, data],
  );
  fs.writeFileSync(
    record,
    Buffer.concat(
      rewritten.map(([tag, data]) =>
        Buffer.concat([Buffer.from(`${tag} ${data.length}\n`), data, Buffer.from("\n")]),
      ),
    ),
  );
  const r = await launch(args);
  assert.equal(r.stdout, "confined\n", show(r));
  assert.ok(r.node, "the record is not replayed");
  assert.ok(!fs.existsSync(escape), "nothing was written outside the scratch folder");
  assert.deepEqual(leftovers(), []);
});

test("a replayed run holds its image against rmi, passes signals and cleans up", async () => {
  ok(await burrow(["tag", one, "fast:held"]));
  const sig = path.join(home.dir, "sig");
  fs.mkdirSync(sig);
  await chownToTestUser(sig);
  const script =
    "touch /sig/started; while [ ! -e /sig/go ]; do sleep 0.1; done; cat /etc/alpine-release >/dev/null && echo read";
  const args = ["run", "-v", `${sig}:/sig`, "fast:held", "sh", "-c", script];
  fs.writeFileSync(path.join(sig, "go"), "");
  ok(await launch(args)); // recorded
  fs.rmSync(path.join(sig, "go"));
  fs.rmSync(path.join(sig, "started"));
  const running = launch(args);
  await appears(path.join(sig, "started"));
  let done: BurrowResult & { node: boolean };
  try {
    const holds = fs.readdirSync(path.join(home.burrowDir, "holds"));
    assert.equal(holds.length, 1, "the replayed run holds its image");
    ok(await burrow(["rmi", "fast:held"]));
  } finally {
    fs.writeFileSync(path.join(sig, "go"), "");
    done = await running;
  }
  assert.equal(done.stdout, "read\n", show(done));
  assert.ok(!done.node);
  assert.deepEqual(
    leftovers().filter((n) => !n.endsWith(".removed")),
    [],
  );

  // SIGTERM reaches the program; the status says so, and nothing is left.
  fs.rmSync(path.join(sig, "started"));
  fs.rmSync(path.join(sig, "go"));
  const sleepArgs = ["run", "-v", `${sig}:/sig`, one, "sh", "-c", "touch /sig/started; exec sleep 60"];
  // Recorded once its program has started (not after a fixed delay: a loaded machine may not be there yet).
  let firstPid = 0;
  const first = launch(sleepArgs, {}, (p) => (firstPid = p));
  await appears(path.join(sig, "started"));
  process.kill(firstPid, "SIGTERM");
  await first;
  fs.rmSync(path.join(sig, "started"), { force: true });
  let pid = 0;
  const replayed = launch(sleepArgs, {}, (p) => (pid = p));
  await appears(path.join(sig, "started"));
  process.kill(pid, "SIGTERM");
  const killed = await replayed;
  assert.ok(!killed.node, "replayed");
  assert.equal(killed.code, 143, show(killed));
  assert.deepEqual(
    leftovers().filter((n) => !n.endsWith(".removed")),
    [],
  );
});

test("an image kept as one SquashFS file replays without Node, and without a hold (its mount keeps the file)", async () => {
  const { ref } = await pushAlpine("fast-sqfs", { env: ["MARK=sqfs"] });
  // On PATH first, a folder the user may not look into (another user's, say), which burrow's search for
  // SquashFUSE meets: the record says so, and the replay checks it the same way.
  const closed = path.join(home.dir, "closed-bin");
  fs.mkdirSync(closed, { mode: 0o700 });
  const sq = { BURROW_IMAGE_FORMAT: "squashfs", PATH: `${closed}/sub:${countingPath}` };
  ok(await burrow(["pull", ref], { env: sq }));
  const args = ["run", ref, "sh", "-c", 'echo "$MARK $(cat /etc/alpine-release | cut -c1)"'];
  const first = await launch(args, sq);
  assert.equal(first.stdout, "sqfs 3\n", show(first));
  let holdsSeen = false;
  const again = await launch(args, sq, () => {
    const holds = path.join(home.burrowDir, "holds");
    const poll = setInterval(() => {
      if (fs.existsSync(holds) && fs.readdirSync(holds).length > 0) holdsSeen = true;
    }, 5);
    setTimeout(() => clearInterval(poll), 1500);
  });
  assert.equal(again.stdout, first.stdout, show(again));
  assert.ok(!again.node, "replayed");
  assert.ok(!holdsSeen, "no hold made in the store");
  assert.deepEqual(leftovers(), []);
});
