// burrow under a real single-node Slurm (test/harness/slurm.ts), as the unprivileged test user.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { testEnv, makeTestHome, burrowEnv, asTestUser } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { runProgram } from "../harness/proc.js";
import { startSlurm } from "../harness/slurm.js";
import type { Slurm } from "../harness/slurm.js";

const env = () => testEnv();
let slurm: Slurm;
let home: TestHome;

before(async () => {
  home = await makeTestHome();
  slurm = await startSlurm((l) => process.stdout.write(`# ${l}\n`), { cpus: 20 });
});

after(async () => {
  await slurm?.stop();
  await home?.cleanup();
});

/** Runs a Slurm client command as the test user, in the test home. */
async function client(argv: string[], extra: Record<string, string> = {}) {
  const [cmd, ...args] = asTestUser(argv);
  return runProgram(cmd!, args, {
    env: { ...burrowEnv(home.dir, extra), ...slurm.env },
    cwd: home.dir,
    timeoutMs: 120_000,
  });
}

test("srun runs tasks as the test user on the loopback cluster", async () => {
  const r = await client(["srun", "-n", "2", "sh", "-c", 'echo "$(id -u) $SLURM_PROCID"']);
  const lines = r.stdout.trim().split("\n").sort();
  assert.deepEqual(lines, [`${env().user.uid} 0`, `${env().user.uid} 1`]);
});
