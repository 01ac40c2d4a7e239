// The proot engine's probe: a missing binary, Yama, the version, and the seccomp retry, with PRoot's answers fed in.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ProotEngine, ptraceBlock } from "../../../engines/proot/index.js";
import type { CapturedRun, ProotOptions } from "../../../engines/proot/index.js";
import { childPids, parentPid, programTarget } from "../../../engines/proot/signals.js";

const BANNER = (v: string, seccomp: "yes" | "no") =>
  `|__|  |__|__\\_____/\\_____/\\____| ${v}\n\nbuilt-in accelerators: process_vm = yes, seccomp_filter = ${seccomp}\n`;

/** An engine whose PRoot is `/opt/proot` and answers through `answer`; the calls are recorded. */
function engine(
  answer: (args: string[], env: Record<string, string>) => CapturedRun,
  over: Partial<ProotOptions> = {},
): { engine: ProotEngine; calls: { args: string[]; env: Record<string, string> }[] } {
  const calls: { args: string[]; env: Record<string, string> }[] = [];
  const e = new ProotEngine({
    storeRoot: undefined,
    env: { PATH: "/opt" },
    packageRoot: undefined,
    isExecutable: (f) => f === "/opt/proot",
    ptraceScope: () => 1,
    privileged: false,
    runner: (_bin, args, env) => {
      calls.push({ args, env });
      return answer(args, env);
    },
    ...over,
  });
  return { engine: e, calls };
}

const ok = (stdout = ""): CapturedRun => ({ status: 0, stdout, stderr: "" });

describe("proot probe", () => {
  test("no binary: says how to get one", async () => {
    const { engine: e } = engine(() => ok(), { isExecutable: () => false });
    const r = await e.probe();
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : "", /burrow install.*proot package/);
  });

  test("BURROW_PROOT naming a non-executable file says so", async () => {
    const { engine: e } = engine(() => ok(), {
      env: { BURROW_PROOT: "/x/proot" },
      isExecutable: () => false,
    });
    const r = await e.probe();
    assert.match(!r.ok ? r.reason : "", /BURROW_PROOT names \/x\/proot/);
  });

  test("Yama scope 3 (and 2 for a user) stop it before any run", async () => {
    const { engine: e, calls } = engine(() => ok(), { ptraceScope: () => 3 });
    const r = await e.probe();
    assert.match(!r.ok ? r.reason : "", /ptrace_scope = 3/);
    assert.equal(calls.length, 0);
    assert.match(ptraceBlock(2, false) ?? "", /ptrace_scope = 2/);
    assert.equal(ptraceBlock(2, true), undefined);
    assert.equal(ptraceBlock(1, false), undefined);
  });

  test("usable: version and accelerators, one --version and one trial run, cached", async () => {
    const { engine: e, calls } = engine((args) =>
      args[0] === "--version" ? ok(BANNER("5.1.0", "no")) : ok(),
    );
    const r = await e.probe();
    assert.deepEqual(r, {
      ok: true,
      binary: "/opt/proot",
      version: "5.1.0 (no seccomp acceleration built in)",
    });
    await e.probe();
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[1]!.args.slice(0, 2), ["-r", "/"]);
    assert.equal(calls[1]!.env.PROOT_NO_SECCOMP, undefined);
  });

  test("a trial that PRoot blames on seccomp is retried without it, and runs go without it", async () => {
    const { engine: e, calls } = engine((args, env) => {
      if (args[0] === "--version") return ok(BANNER("5.3.0", "yes"));
      if (env.PROOT_NO_SECCOMP === "1") return ok();
      return { status: 1, stdout: "", stderr: "proot warning: prctl(PR_SET_SECCOMP): Invalid argument\n" };
    });
    const r = await e.probe();
    assert.deepEqual(r, { ok: true, binary: "/opt/proot", version: "5.3.0 (seccomp acceleration off)" });
    assert.equal(calls.length, 3);
  });

  test("PROOT_NO_SECCOMP in burrow's environment, or the noseccomp variant, turns it off without a retry", async () => {
    for (const over of [{ env: { PATH: "/opt", PROOT_NO_SECCOMP: "1" } }, { variant: "noseccomp" }]) {
      const { engine: e, calls } = engine(
        (args) => (args[0] === "--version" ? ok(BANNER("5.3.0", "yes")) : ok()),
        over,
      );
      const r = await e.probe();
      assert.equal(r.ok && r.version, "5.3.0 (seccomp acceleration off)");
      assert.equal(calls[1]!.env.PROOT_NO_SECCOMP, "1");
    }
  });

  test("an unknown variant is refused", async () => {
    const { engine: e } = engine(() => ok(), { variant: "fast" });
    const r = await e.probe();
    assert.match(!r.ok ? r.reason : "", /no variant "fast"/);
  });

  test("a failing trial (ptrace blocked) gives PRoot's first line", async () => {
    const { engine: e } = engine((args) =>
      args[0] === "--version"
        ? ok(BANNER("5.1.0", "no"))
        : { status: 1, stdout: "", stderr: "proot error: ptrace(TRACEME): Operation not permitted\n" },
    );
    const r = await e.probe();
    assert.match(!r.ok ? r.reason : "", /cannot trace programs here.*ptrace\(TRACEME\)/);
  });

  test("a binary that prints no version is not PRoot", async () => {
    const { engine: e } = engine(() => ok("hello\n"));
    const r = await e.probe();
    assert.match(!r.ok ? r.reason : "", /not a usable PRoot/);
  });
});

describe("proot signals", () => {
  test("parentPid reads the field after (comm) state, spaces and parentheses in comm included", () => {
    assert.equal(parentPid("123 (a) b) c) S 77 123 123 0 -1"), 77);
  });

  test("childPids of this process lists a child it spawned", async () => {
    const { spawn } = await import("node:child_process");
    const child = spawn("sleep", ["5"]);
    try {
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(childPids(process.pid).includes(child.pid!));
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("the signal goes to PRoot's child, never to PRoot", () => {
    const sent: [number, string][] = [];
    const realKill = process.kill;
    process.kill = ((pid: number, sig: string) => {
      sent.push([pid, sig]);
      return true;
    }) as typeof process.kill;
    try {
      const target = programTarget({ pid: 10, exitCode: null, signalCode: null }, (pid) =>
        pid === 10 ? [11] : [],
      );
      target.kill("SIGTERM");
    } finally {
      process.kill = realKill;
    }
    assert.deepEqual(sent, [[11, "SIGTERM"]]);
  });
});
