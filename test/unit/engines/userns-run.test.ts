// UsernsEngine.run and probe for real: a stand-in burrow process (userns-driver.js), run as the
// unprivileged test user, runs RunSpecs through the built helper on a root that mirrors the host's
// (its /usr and /etc bound read-only), so the host's own node and shell run inside.
import { after, before, describe, test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { RunSpec } from "../../../src/engine-interface.js";
import { removeTree } from "../../harness/remove-tree.js";
import { asUser, ensureTestUser } from "../../harness/test-user.js";
import type { TestUser } from "../../harness/test-user.js";

/** The package root the driver runs from: the harness's staged copy (readable by the test user), else this checkout. */
const PACKAGE_ROOT = process.env.BURROW_TEST_CLI
  ? path.resolve(path.dirname(process.env.BURROW_TEST_CLI), "..", "..", "..")
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
const DRIVER = path.join(PACKAGE_ROOT, "dist", "test", "unit", "engines", "userns-driver.js");
const HELPER = path.join(PACKAGE_ROOT, "vendor", `linux-${process.arch}`, "burrow-ns");

let user: TestUser;
let scratch = "";
/** A read-only root holding empty usr/, etc/, tmp/ and the usual merged-/usr links. */
let root = "";

/** A spec running `argv` in the host-mirror root as uid 0, with /proc, /dev, /sys and the host's /usr and /etc. */
function hostSpec(argv: string[], over: Partial<RunSpec> = {}): RunSpec {
  return {
    root: { kind: "direct", path: root, readonly: true },
    argv,
    env: ["PATH=/usr/local/bin:/usr/bin:/bin"],
    cwd: "/",
    uid: 0,
    gid: 0,
    sysdirs: true,
    tty: false,
    fakeRoot: false,
    pidNamespace: false,
    ...over,
    mounts: [
      { kind: "bind", source: "/usr", destination: "/usr", readonly: true },
      { kind: "bind", source: "/etc", destination: "/etc", readonly: true },
      ...(over.mounts ?? []),
    ],
  };
}

/** Makes the host-mirror root: /bin, /lib, /lib64, /sbin as the host has them (links into /usr, or dirs bound). */
async function makeRoot(dir: string): Promise<void> {
  await fsp.mkdir(dir, { mode: 0o755 });
  for (const d of ["usr", "etc", "tmp", "proc", "dev", "sys"])
    await fsp.mkdir(path.join(dir, d), { mode: 0o755 });
  for (const d of ["bin", "sbin", "lib", "lib64"]) {
    const target = await fsp.readlink(path.join("/", d)).catch(() => undefined);
    if (target !== undefined) await fsp.symlink(target, path.join(dir, d));
    else if (fs.existsSync(path.join("/", d))) {
      throw new Error(
        `/${d} is not a link into /usr: this test needs a merged-/usr host (Debian 12 or later)`,
      );
    }
  }
}

interface Driven {
  child: ChildProcess;
  /** Resolves when the program has printed `line` on stdout. */
  waitFor(line: string): Promise<void>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Starts the driver as the test user. */
function drive(args: string[], input = ""): Driven {
  const [cmd, ...rest] = asUser(user, [process.execPath, DRIVER, ...args]);
  const child = spawn(cmd!, rest, {
    stdio: ["pipe", "pipe", "pipe"],
    cwd: "/",
    env: { PATH: process.env.PATH ?? "" },
  });
  let stdout = "";
  let stderr = "";
  const waiters: { line: string; resolve: () => void }[] = [];
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    for (const w of waiters) if (stdout.split("\n").includes(w.line)) w.resolve();
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdin!.end(input);
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return {
    child,
    done,
    waitFor: (line) =>
      new Promise((resolve, reject) => {
        if (stdout.split("\n").includes(line)) return resolve();
        waiters.push({ line, resolve });
        void done.then((r) => reject(new Error(`exited (${r.code}) before printing ${line}: ${r.stderr}`)));
      }),
  };
}

/** Runs `spec` through the driver and returns its status and output. */
async function run(
  spec: RunSpec,
  input = "",
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return drive(["run", JSON.stringify(spec)], input).done;
}

/** A node program that prints `ready`, counts each of `signals` (`term 1`), and exits 0 a second after the first. */
function counter(signals: NodeJS.Signals[]): string[] {
  const script =
    "let n=0;" +
    `for (const s of ${JSON.stringify(signals)}) process.on(s, () => { n++; console.log(s + ' ' + n);` +
    " if (n === 1) setTimeout(() => process.exit(0), 1000); });" +
    "console.log('ready'); setTimeout(() => process.exit(9), 15000);";
  return [process.execPath, "-e", script];
}

before(async () => {
  user = await ensureTestUser((line) => process.stdout.write(`userns engine: ${line}\n`));
  if (!fs.existsSync(HELPER)) {
    assert.fail(
      `${HELPER} is missing: run npm run build (it builds the helper when make and gcc are installed)`,
    );
  }
  scratch = await fsp.mkdtemp(path.join(os.tmpdir(), "burrow-userns-engine-"));
  await fsp.chmod(scratch, 0o755);
  root = path.join(scratch, "root");
  await makeRoot(root);
});

after(async () => {
  if (scratch) await removeTree(scratch);
});

describe("userns engine probe as an unprivileged user", () => {
  test("is usable here (its time is printed; bench/ measures speed)", async (t: TestContext) => {
    const r = await drive(["probe"]).done;
    assert.equal(r.code, 0, r.stderr);
    const { probe, ms } = JSON.parse(r.stdout) as {
      probe: { ok: boolean; reason?: string; binary: string };
      ms: number[];
    };
    assert.ok(probe.ok, `the userns engine cannot run on this test machine: ${probe.reason}`);
    assert.equal(probe.binary, HELPER);
    const sorted = [...ms].sort((a, b) => a - b);
    // Timing is not asserted: a test machine under load says nothing about burrow's speed.
    t.diagnostic(
      `probe times: ${ms.map((x) => x.toFixed(1)).join(", ")} ms, median ${sorted[2]!.toFixed(1)} ms`,
    );
  });
});

describe("userns engine run", () => {
  test("the program's exit status is burrow's", async () => {
    const r = await run(hostSpec(["/bin/sh", "-c", "exit 7"]));
    assert.equal(r.code, 7, r.stderr);
  });

  test("the program gets exactly the spec's environment", async () => {
    const env = ["PATH=/usr/bin:/bin", "FOO=a b:c=d", "EMPTY="];
    const r = await run(hostSpec(["env"], { env }));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n").sort(), [...env].sort());
  });

  test("stdin and stdout pass through untouched", async () => {
    const data = "line one\nline two\n\u00e9\u0000end";
    const r = await run(hostSpec(["cat"]), data);
    assert.equal(r.stdout, data);
  });

  test("ids, working directory and host name", async () => {
    const r = await run(
      hostSpec(["/bin/sh", "-c", "id -u; id -g; pwd; hostname"], {
        uid: 1000,
        gid: 100,
        cwd: "/usr",
        hostname: "box",
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "1000\n100\n/usr\nbox\n");
  });

  test("a tmpfs and a read-only bind whose paths hold ':' and '\\'", async () => {
    const src = path.join(scratch, "da:ta\\dir");
    await fsp.mkdir(src, { mode: 0o755 });
    await fsp.writeFile(path.join(src, "f"), "inside\n", { mode: 0o644 });
    const r = await run(
      hostSpec(
        ["/bin/sh", "-c", "cat '/tmp/in:side/f'; touch '/tmp/in:side/g' 2>/dev/null || echo read-only"],
        {
          mounts: [
            { kind: "tmpfs", destination: "/tmp", mode: 0o1777 },
            { kind: "bind", source: src, destination: "/tmp/in:side", readonly: true, create: true },
          ],
        },
      ),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "inside\nread-only\n");
    assert.ok(!fs.existsSync(path.join(src, "g")));
  });

  test("a pid namespace with its own /proc: the program is pid 2", async () => {
    const r = await run(hostSpec(["/bin/sh", "-c", "echo $$; cat /proc/1/comm"], { pidNamespace: true }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "2\nburrow-ns\n");
  });

  for (const pidNamespace of [false, true]) {
    const how = pidNamespace ? "with a pid namespace" : "without a pid namespace";

    test(`a program killed by signal N gives 128 + N (${how})`, async () => {
      const r = await run(hostSpec(["/bin/sh", "-c", "kill -USR1 $$"], { pidNamespace }));
      assert.equal(r.code, 128 + os.constants.signals.SIGUSR1, r.stderr);
    });

    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
      test(`${signal} to burrow reaches the program exactly once (${how})`, async () => {
        const d = drive(["run", JSON.stringify(hostSpec(counter([signal]), { pidNamespace }))]);
        await d.waitFor("ready");
        d.child.kill(signal);
        const r = await d.done;
        assert.equal(r.code, 0, `status ${r.code}: ${r.stdout} ${r.stderr}`);
        assert.equal(r.stdout, `ready\n${signal} 1\n`);
      });
    }
  }

  for (const pidNamespace of [false, true]) {
    test(`^C on burrow's terminal reaches the program exactly once (${pidNamespace ? "with" : "without"} a pid namespace)`, async () => {
      // script(1) runs the driver as a session leader on a new pty; a ^C written to it is the terminal's SIGINT.
      const specFile = path.join(scratch, `tty-spec-${pidNamespace}.json`);
      await fsp.writeFile(
        specFile,
        JSON.stringify(hostSpec(counter(["SIGINT"]), { pidNamespace, tty: true })),
        {
          mode: 0o644,
        },
      );
      const quote = (a: string): string => `'${a.replace(/'/g, "'\\''")}'`;
      // `exec`: script(1) runs $SHELL -c (dash when SHELL is unset, as under CI), and dash stays as the
      // parent in the foreground group, where the terminal's SIGINT would kill it.
      const command =
        "exec " +
        asUser(user, [process.execPath, DRIVER, "run", `@${specFile}`])
          .map(quote)
          .join(" ");
      const child = spawn("script", ["-qec", command, "/dev/null"], {
        stdio: ["pipe", "pipe", "pipe"],
        cwd: "/",
      });
      let out = "";
      const ready = new Promise<void>((resolve) =>
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          if (out.includes("ready")) resolve();
        }),
      );
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = new Promise<number | null>((resolve) => child.on("close", resolve));
      await Promise.race([ready, code]);
      child.stdin.write("\x03");
      const status = await code;
      clearTimeout(timer);
      assert.equal(status, 0, out);
      assert.match(out, /SIGINT 1/);
      assert.doesNotMatch(out, /SIGINT 2/);
    });
  }

  test("a missing helper (BURROW_NS) is an engine error, not a crash", async () => {
    const bad = path.join(scratch, "no-such-helper");
    const [cmd, ...rest] = asUser(user, [
      "env",
      `BURROW_NS=${bad}`,
      process.execPath,
      DRIVER,
      "run",
      JSON.stringify(hostSpec(["true"])),
    ]);
    const child = spawn(cmd!, rest, { stdio: ["ignore", "pipe", "pipe"], cwd: "/" });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 125);
    assert.match(stderr, /BURROW_NS names .*no-such-helper, which is not an executable file/);
  });
});
