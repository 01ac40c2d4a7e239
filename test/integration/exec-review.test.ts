// Detached runs at their edges, as the unprivileged test user: `$(burrow run -d ...)` in a shell returns
// although the caller's pipe is open at another descriptor too (the supervisor and the container keep none
// of the caller's descriptors); the supervisor carries on when the command that started it is killed; a
// program that ends at once is recorded with its status; stop works when the supervisor is gone.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { spawn } from "node:child_process";
import { burrowEnv, makeTestHome, spawnBurrow, testEnv } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { asUser } from "../harness/test-user.js";
import { burrowIn, ok, plainRegistryEnv, pullAlpine, show } from "../harness/suite.js";

let home: TestHome;
let image = "";
const burrow = burrowIn(() => home);

before(async () => {
  home = await makeTestHome();
  image = await pullAlpine(burrow, "exec-review");
});
after(async () => {
  // A failed test may leave its container running: no process outlives the file.
  if (home !== undefined)
    for (const name of ["fds", "orphaned", "unsupervised"]) await burrow(["rm", "-f", name]);
  await home?.cleanup();
});

/** Runs `script` with bash as the test user ($BURROW is the CLI); its output once all of it is read. */
function sh(
  script: string,
  timeoutMs: number,
): Promise<{ code: number | null; out: string; timedOut: boolean }> {
  const env = testEnv();
  const argv = asUser(env.user, ["bash", "-c", script]);
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: { ...burrowEnv(home.dir, plainRegistryEnv()), BURROW: `${process.execPath} -- ${env.cli}` },
      cwd: home.dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let timedOut = false;
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, timedOut });
    });
  });
}

/** Waits until `test()` holds (20 s at most). */
async function until(what: string, test: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await test())) {
    assert.ok(Date.now() < end, `timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The STATUS of container `name` in `ps --format json`. */
async function statusOf(name: string): Promise<string | undefined> {
  const list = JSON.parse(ok(await burrow(["ps", "--format", "json"]))) as {
    names: string[];
    status: string;
  }[];
  return list.find((c) => c.names.includes(name))?.status;
}

test("$(burrow run -d ...) returns although the caller's pipe is open at a high descriptor too", async () => {
  const r = await sh(
    `id=$($BURROW run -d --name fds ${image} sh -c 'ls /proc/self/fd; echo READY; exec sleep 1000' 30>&1); echo "id=$id"`,
    20_000,
  );
  assert.ok(!r.timedOut, `the shell waited for the container's end: the pipe was held open\n${r.out}`);
  assert.match(r.out, /^id=[a-f0-9]{64}$/m, r.out);
  let log = "";
  await until("the program ran", async () => (log = ok(await burrow(["logs", "fds"]))).includes("READY"));
  // 0-2 and the descriptor ls reads /proc/self/fd through; nothing of the caller's.
  const fds = log.split("\n").filter((l) => /^\d+$/.test(l));
  assert.deepEqual(fds, ["0", "1", "2", "3"], log);
  ok(await burrow(["rm", "-f", "fds"]));
});

test("the supervisor carries on when the command that started it is killed meanwhile", async () => {
  const marker = `__supervise`;
  const supervisors = (): string[] =>
    fs
      .readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const cmd = fs.readFileSync(`/proc/${p}/cmdline`, "utf8");
          return cmd.includes(marker) && cmd.includes(home.burrowDir);
        } catch {
          return false;
        }
      });
  const others = supervisors();
  const child = await spawnBurrow(["run", "-d", "--name", "orphaned", image, "sleep", "1000"], {
    home,
    env: plainRegistryEnv(),
  });
  let pid: string | undefined;
  const supervisor = (): string | undefined => supervisors().find((p) => !others.includes(p));
  let said = "";
  child.stdout.on("data", (d: Buffer) => (said += d.toString()));
  child.stderr.on("data", (d: Buffer) => (said += d.toString()));
  await until("the supervisor starts", () => (pid = supervisor()) !== undefined).catch((err: Error) =>
    assert.fail(`${err.message}; run -d said: ${said}`),
  );
  child.kill("SIGKILL");
  await until("the container runs", async () => (await statusOf("orphaned"))?.startsWith("running") === true);
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(fs.existsSync(`/proc/${pid}`), `the supervisor (pid ${pid}) still runs the container`);
  ok(await burrow(["stop", "orphaned"]));
  assert.equal(await statusOf("orphaned"), "exited (143)", "the supervisor recorded the program's status");
  ok(await burrow(["rm", "orphaned"]));
});

test("run -d of a program that ends at once prints the id and returns; ps shows its status", async () => {
  for (const [name, engine, script, status] of [
    ["quick0", "userns", "true", "exited (0)"],
    ["quick3", "userns", "exit 3", "exited (3)"],
    ["quick0-runc", "runc", "true", "exited (0)"],
    ["quick3-runc", "runc", "exit 3", "exited (3)"],
  ] as const) {
    const t0 = Date.now();
    const r = await burrow(["run", "--engine", engine, "-d", "--name", name, image, "sh", "-c", script]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^[a-f0-9]{64}\n$/, show(r));
    assert.ok(Date.now() - t0 < 8000, `run -d returned at once (${Date.now() - t0} ms)`);
    await until(`${name} is recorded`, async () => (await statusOf(name)) === status);
    ok(await burrow(["rm", name]));
  }
});

test("stop of a container whose supervisor is gone ends its program with SIGTERM", async () => {
  ok(await burrow(["run", "-d", "--name", "unsupervised", image, "sleep", "1000"]));
  const list = JSON.parse(ok(await burrow(["ps", "--format", "json"]))) as { id: string; names: string[] }[];
  const id = list.find((c) => c.names.includes("unsupervised"))!.id;
  const state = JSON.parse(fs.readFileSync(`${home.burrowDir}/run/detached/${id}/state.json`, "utf8")) as {
    supervisor: { pid: number };
  };
  process.kill(state.supervisor.pid, "SIGKILL");
  await until("the supervisor is gone", () => !fs.existsSync(`/proc/${state.supervisor.pid}`));
  const t0 = Date.now();
  ok(await burrow(["stop", "unsupervised"]));
  assert.ok(Date.now() - t0 < 8000, `sleep died of SIGTERM, without the 10 s grace (${Date.now() - t0} ms)`);
  assert.match((await statusOf("unsupervised")) ?? "", /^exited/);
  ok(await burrow(["rm", "unsupervised"]));
});
