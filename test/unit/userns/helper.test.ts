// burrow-ns, the userns engine's C helper: built from engines/userns into a temporary folder and run on the
// Alpine minirootfs as an unprivileged user (the test user when the tests run as root).
import { after, before, describe, test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { ALPINE, locateFixtures } from "../../harness/fixtures.js";
import { findProgram } from "../../harness/prerequisites.js";
import { runProgram } from "../../harness/proc.js";
import type { ProcResult } from "../../harness/proc.js";
import { removeTree } from "../../harness/remove-tree.js";
import { ensureTestUser } from "../../harness/test-user.js";
import type { TestUser } from "../../harness/test-user.js";

/** The repository root: this file is dist/test/unit/userns/helper.test.js. */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
/** The environment the contained programs get unless a test says otherwise. */
const BASE_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root" };

const log = (line: string): void => {
  process.stdout.write(`userns helper: ${line}\n`);
};

let scratch = "";
let helper = "";
let rootfs = "";
let user: TestUser;
let setpriv: string | undefined;
let buildOutput = "";

/** The argv that runs `argv` as the test user (setpriv, no groups), or `argv` itself when not root. */
function asTestUser(argv: string[]): string[] {
  if (!user.name) return argv;
  return [setpriv!, `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--", ...argv];
}

/** Gives `p` and everything under it to the test user (when running as root). */
async function giveToTestUser(p: string): Promise<void> {
  if (!user.name) return;
  await runProgram("chown", ["-R", `${user.uid}:${user.gid}`, p]);
}

/** A fresh directory in the scratch folder, owned by the test user. */
async function userDir(name: string): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(scratch, `${name}-`));
  await fsp.chmod(dir, 0o755);
  await giveToTestUser(dir);
  return dir;
}

interface RunOptions {
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
}

/** Runs `burrow-ns ...args` as the test user; never throws on a non-zero status. */
function ns(args: string[], opts: RunOptions = {}): Promise<ProcResult> {
  const [cmd, ...rest] = asTestUser([helper, ...args]);
  return runProgram(cmd!, rest, {
    env: opts.env ?? BASE_ENV,
    input: opts.input ?? "",
    timeoutMs: opts.timeoutMs ?? 20_000,
    allowFailure: true,
    cwd: "/",
  });
}

/** Runs `sh -c script` in the Alpine root with `options` before the `--`. */
function sh(script: string, options: string[] = [], opts: RunOptions = {}): Promise<ProcResult> {
  return ns(["--rootfs", rootfs, ...options, "--", "/bin/sh", "-c", script], opts);
}

/** Asserts a helper failure: status 125 and one `burrow-ns:` line matching `pattern`. */
function assertHelperFailure(r: ProcResult, pattern: RegExp): void {
  assert.equal(r.code, 125, `expected status 125, got ${r.code}; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0]!, /^burrow-ns: /);
  assert.match(lines[0]!, pattern);
}

/** Starts `burrow-ns ...args` as the test user with piped stdio, for the signal tests. */
function start(args: string[], detached = false) {
  const [cmd, ...rest] = asTestUser([helper, ...args]);
  const child = spawn(cmd!, rest, { env: BASE_ENV, cwd: "/", stdio: ["ignore", "pipe", "pipe"], detached });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  const waitFor = async (text: string, timeoutMs = 10_000): Promise<void> => {
    const until = Date.now() + timeoutMs;
    while (!stdout.includes(text)) {
      if (Date.now() > until) throw new Error(`no "${text}" on stdout; stdout: ${stdout} stderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, exited, waitFor, output: () => ({ stdout, stderr }) };
}

/** Pids of live processes whose command line contains `needle`. */
function processesMatching(needle: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(needle)) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

before(async () => {
  scratch = await fsp.mkdtemp(path.join(os.tmpdir(), "burrow-ns-test-"));
  await fsp.chmod(scratch, 0o755);
  user = await ensureTestUser(log);
  if (user.name) {
    setpriv = await findProgram("setpriv");
    if (!setpriv)
      throw new Error("setpriv is missing (Debian package util-linux): it runs the helper unprivileged");
  }
  if (!(await findProgram("make")))
    throw new Error("make is missing (Debian package make): it builds the helper");
  const bin = path.join(scratch, "bin");
  const build = await runProgram("make", [
    "--no-print-directory",
    "-C",
    path.join(REPO_ROOT, "engines", "userns"),
    `OUTDIR=${bin}`,
  ]);
  buildOutput = build.stdout;
  helper = path.join(bin, "burrow-ns");
  await fsp.chmod(bin, 0o755);
  const fixtures = await locateFixtures(REPO_ROOT, log);
  rootfs = path.join(scratch, "rootfs");
  await fsp.mkdir(rootfs, { mode: 0o755 });
  await runProgram("tar", ["-xzf", path.join(fixtures, ALPINE.file), "-C", rootfs]);
  await giveToTestUser(rootfs);
});

after(async () => {
  if (scratch) await removeTree(scratch);
});

describe("build", () => {
  test("make -C engines/userns says where it put the binary and whether it is static", () => {
    assert.match(buildOutput, /burrow-ns: built (static|dynamic)[^\n]*: \S+\/burrow-ns\n/);
    log(buildOutput.trim());
  });

  test("--version and --help exit 0 without touching a namespace", async () => {
    const v = await ns(["--version"]);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^burrow-ns \d+\.\d+\.\d+ \(interface 6\)\n$/);
    const h = await ns(["--help"]);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /^usage: burrow-ns \[OPTIONS\] -- PROGRAM/);
  });
});

describe("exit statuses", () => {
  test("the program's own status comes back: 0 and 7", async () => {
    assert.equal((await ns(["--rootfs", rootfs, "--", "/bin/true"])).code, 0);
    assert.equal((await sh("exit 7")).code, 7);
  });

  test("a file that cannot be executed gives 126", async () => {
    const r = await ns(["--rootfs", rootfs, "--", "/etc/passwd"]);
    assert.equal(r.code, 126);
    assert.equal(r.stderr, "burrow-ns: /etc/passwd: cannot execute: Permission denied\n");
  });

  test("a missing command gives 127, searched in the container's PATH", async () => {
    const r = await ns(["--rootfs", rootfs, "--", "no-such-command"]);
    assert.equal(r.code, 127);
    assert.equal(r.stderr, "burrow-ns: no-such-command: command not found\n");
    const p = await ns(["--rootfs", rootfs, "--", "/no/such/program"]);
    assert.equal(p.code, 127);
    assert.equal(p.stderr, "burrow-ns: /no/such/program: No such file or directory\n");
    // `true` lives in /bin of the image: a PATH without it does not find it, the default one does.
    const none = await ns(["--rootfs", rootfs, "--", "true"], { env: { PATH: "/nowhere" } });
    assert.equal(none.code, 127);
    assert.equal((await ns(["--rootfs", rootfs, "--", "true"], { env: {} })).code, 0);
  });

  test("names with control characters or bytes that are not UTF-8 are printed printable", async () => {
    // The names are made by printf in a shell: Node's argv strings cannot hold a byte that is not UTF-8.
    const hostile = async (options: string): Promise<ProcResult> => {
      const [cmd, ...rest] = asTestUser([helper, "--rootfs", rootfs]);
      return runProgram(
        "/bin/sh",
        [
          "-c",
          `name=$(printf '/no/\\033]52;c;eA==\\007\\302\\233\\377\\342\\200\\250\\tx'); ${options}`,
          "sh",
          cmd!,
          ...rest,
        ],
        { env: BASE_ENV, input: "", timeoutMs: 20_000, allowFailure: true, cwd: "/" },
      );
    };
    const printed = "/no/\\x1b]52;c;eA==\\x07\\u009b\\xff\\u2028\\tx";
    const exec = await hostile(`exec "$@" -- "$name"`);
    assert.equal(exec.code, 127);
    assert.equal(exec.stderr, `burrow-ns: ${printed}: No such file or directory\n`);
    const cwd = await hostile(`exec "$@" --cwd "$name" -- /bin/true`);
    assertHelperFailure(cwd, /: No such file or directory$/);
    assert.ok(cwd.stderr.includes(`--cwd ${printed}: `), cwd.stderr);
  });

  test("a bad argument or a missing rootfs gives 125 and one burrow-ns: line", async () => {
    assertHelperFailure(await ns(["--rootfs", rootfs, "--bogus", "--", "true"]), /unknown option '--bogus'/);
    assertHelperFailure(await ns(["--rootfs", rootfs, "true"]), /unexpected argument 'true'/);
    assertHelperFailure(await ns(["--rootfs", rootfs, "--"]), /no PROGRAM after --/);
    assertHelperFailure(await ns(["--", "true"]), /--rootfs is required/);
    assertHelperFailure(await ns(["--rootfs", "relative", "--", "true"]), /must be an absolute path/);
    assertHelperFailure(
      await ns(["--rootfs", path.join(scratch, "missing"), "--", "true"]),
      /--rootfs \S+missing: No such file or directory$/,
    );
    assertHelperFailure(
      await ns(["--rootfs", rootfs, "--uid", "x", "--", "true"]),
      /--uid 'x': not a numeric id/,
    );
    assertHelperFailure(await ns(["--rootfs", rootfs, "--pid=yes", "--", "true"]), /--pid takes no value/);
    assertHelperFailure(
      await ns(["--rootfs", rootfs, "--bind", "/tmp:/x:rx", "--", "true"]),
      /unknown flag 'rx'/,
    );
    assertHelperFailure(
      await ns(["--rootfs", rootfs, "--overlay", "/a:/b:/c:sync", "--", "true"]),
      /--overlay '\/a:\/b:\/c:sync': expected LOWER:UPPER:WORK\[:volatile\]/,
    );
    assertHelperFailure(
      await ns(["--rootfs", rootfs, "--bind", "/tmp:/a/../b", "--", "true"]),
      /without \. or \.\./,
    );
    assertHelperFailure(await ns(["--rootfs", rootfs, "--tmpfs", "/tmp:size=lots", "--", "true"]), /--tmpfs/);
    assertHelperFailure(await ns(["--rootfs", rootfs, "--new-devpts", "--", "true"]), /needs --dev/);
  });

  test("with --pid a program killed by a signal gives 128 + the signal, as a shell reports it", async () => {
    assert.equal((await sh("kill -9 $$", ["--pid"])).code, 137);
  });

  test("a setuid install refuses to run", async (t: TestContext) => {
    if (!user.name) return t.skip("needs root to install a setuid-root copy of the helper");
    const copy = path.join(scratch, "bin", "burrow-ns-setuid");
    await fsp.copyFile(helper, copy);
    await fsp.chown(copy, 0, 0);
    await fsp.chmod(copy, 0o4755);
    const opts = await runProgram("findmnt", ["-no", "OPTIONS", "-T", copy], { allowFailure: true });
    if (/(^|,)nosuid(,|$)/.test(opts.stdout)) return t.skip(`${scratch} is on a nosuid mount`);
    const [cmd, ...rest] = asTestUser([copy, "--rootfs", rootfs, "--", "/bin/true"]);
    const r = await runProgram(cmd!, rest, { allowFailure: true, env: BASE_ENV });
    assertHelperFailure(r, /refusing to run setuid or setgid/);
  });
});

describe("ids", () => {
  test("the program is uid 0 by default, and --uid/--gid choose the ids inside", async () => {
    assert.equal((await sh("id -u; id -g")).stdout, "0\n0\n");
    assert.equal((await sh("id -u; id -g", ["--uid", "1000", "--gid", "1000"])).stdout, "1000\n1000\n");
  });

  test("files created in a bind belong to the invoking user outside", async () => {
    const data = await userDir("data");
    const r = await sh("echo hi > /mnt/f && ls -n /mnt/f", ["--bind", `${data}:/mnt`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^-\S+\s+1\s+0\s+0\s/);
    const st = await fsp.stat(path.join(data, "f"));
    assert.equal(st.uid, user.uid);
    assert.equal(st.gid, user.gid);
    const as1000 = await sh("echo hi > /mnt/g", ["--uid", "1000", "--gid", "1000", "--bind", `${data}:/mnt`]);
    assert.equal(as1000.code, 0, as1000.stderr);
    assert.equal((await fsp.stat(path.join(data, "g"))).uid, user.uid);
  });
});

describe("binds", () => {
  test("a ro bind is read-only, a rw one writable", async () => {
    const data = await userDir("ro");
    const ro = await sh("echo x > /mnt/f", ["--bind", `${data}:/mnt:ro`]);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    assert.equal((await sh("echo x > /mnt/f", ["--bind", `${data}:/mnt:rw`])).code, 0);
  });

  test("a ro bind of another host mount (/dev/shm) is read-only", async () => {
    const r = await sh("grep ' /mnt ' /proc/self/mounts", ["--proc", "--bind", "/dev/shm:/mnt:ro"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, / \/mnt \S+ ro,/);
  });

  test("mkdir creates a missing destination: a directory for a directory, a file for a file", async () => {
    const data = await userDir("mk");
    await fsp.writeFile(path.join(data, "file"), "content\n");
    await giveToTestUser(data);
    const r = await sh("cat /new/dir/file && cat /new/file", [
      "--bind",
      `${data}:/new/dir:mkdir`,
      "--bind",
      `${data}/file:/new/file:ro:mkdir`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "content\ncontent\n");
    assert.ok((await fsp.stat(path.join(rootfs, "new", "dir"))).isDirectory());
    assert.ok((await fsp.stat(path.join(rootfs, "new", "file"))).isFile());
  });

  test("a missing destination without mkdir, or a missing source without opt, is refused", async () => {
    const data = await userDir("missing");
    assertHelperFailure(await sh("true", ["--bind", `${data}:/not/there`]), /destination \/not\/there/);
    assertHelperFailure(await sh("true", ["--bind", `${data}/nope:/mnt`]), /source \S+nope: No such file/);
    assert.equal((await sh("true", ["--bind", `${data}/nope:/mnt:opt`])).code, 0);
  });

  test("a destination whose symlink climbs out of the root is refused", async () => {
    const outside = await userDir("outside");
    const link = path.join(rootfs, "escape");
    await fsp.symlink(`../../../../../../../..${outside}`, link);
    await giveToTestUser(link);
    const data = await userDir("src");
    assertHelperFailure(
      await sh("true", ["--bind", `${data}:/escape/sub:mkdir`]),
      /destination \/escape\/sub resolves outside the container root/,
    );
    assert.deepEqual(await fsp.readdir(outside), []);
  });

  test("an absolute symlink in a destination resolves inside the root, never on the host", async () => {
    const hostSide = path.join(scratch, `host-side-${process.pid}`);
    await fsp.symlink(hostSide, path.join(rootfs, "abs"));
    await giveToTestUser(path.join(rootfs, "abs"));
    const data = await userDir("abs-src");
    const r = await sh("echo in > /abs/f && ls /abs", ["--bind", `${data}:/abs:mkdir`]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await fsp.stat(path.join(rootfs, hostSide))).isDirectory(), "created inside the root");
    assert.equal(fs.existsSync(hostSide), false, "nothing created on the host");
    assert.equal(await fsp.readFile(path.join(data, "f"), "utf8"), "in\n");
  });

  test("a destination folder swapped with a link to a host folder during setup: nothing made or mounted outside", async () => {
    const outside = await userDir("swap-outside");
    const data = await userDir("swap-src");
    await fsp.writeFile(path.join(data, "file"), "bound\n");
    await giveToTestUser(data);
    const at = path.join(rootfs, "swap");
    const real = path.join(rootfs, "swap.real");
    const link = path.join(rootfs, "swap.link");
    await fsp.mkdir(real);
    await fsp.symlink(outside, link);
    await giveToTestUser(real);
    await giveToTestUser(link);
    // A thread that keeps putting the real folder and the link in turn at /swap (renames are atomic).
    const stop = new SharedArrayBuffer(4);
    const worker = new Worker(
      `const fs = require("node:fs"); const { workerData: w } = require("node:worker_threads");
       const flag = new Int32Array(w.stop);
       while (Atomics.load(flag, 0) === 0) {
         try { fs.renameSync(w.real, w.at); fs.renameSync(w.at, w.real); } catch {}
         try { fs.renameSync(w.link, w.at); fs.renameSync(w.at, w.link); } catch {}
       }`,
      { eval: true, workerData: { stop, at, real, link } },
    );
    try {
      for (let i = 0; i < 60; i++) {
        await sh("true", [
          "--bind",
          `${data}/file:/swap/sub/file:mkdir`,
          "--bind",
          `${data}:/swap/dir:mkdir`,
          "--tmpfs",
          "/swap/t",
        ]);
      }
    } finally {
      Atomics.store(new Int32Array(stop), 0, 1);
      await worker.terminate();
      for (const p of [at, real, link, path.join(rootfs, outside.split("/")[1]!)])
        await fsp.rm(p, { recursive: true, force: true });
    }
    assert.deepEqual(await fsp.readdir(outside), [], "nothing was made in the host folder");
    assert.deepEqual(await fsp.readdir(data), ["file"]);
  });

  test("':' and '\\' in a bind path are escaped with a backslash", async () => {
    const data = await userDir("colon");
    const odd = path.join(data, "a:b\\c");
    await fsp.mkdir(odd);
    await fsp.writeFile(path.join(odd, "f"), "odd\n");
    await giveToTestUser(data);
    const escaped = odd.replaceAll("\\", "\\\\").replaceAll(":", "\\:");
    const r = await sh("cat /mnt/f", ["--bind", `${escaped}:/mnt:ro`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "odd\n");
  });
});

describe("namespaces and mounts", () => {
  test("--pid: the helper's init is pid 1, the program pid 2, and /proc shows only the container", async () => {
    const r = await sh("echo $$; cat /proc/1/comm; ls /proc", ["--pid", "--proc"]);
    assert.equal(r.code, 0, r.stderr);
    const [self, comm, ...entries] = r.stdout.trim().split("\n");
    assert.equal(self, "2");
    assert.equal(comm, "burrow-ns");
    const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number);
    assert.ok(pids.includes(1) && pids.includes(2), `pids: ${pids.join(" ")}`);
    assert.ok(
      pids.every((p) => p < 10),
      `only the container's processes, got ${pids.join(" ")}`,
    );
  });

  test("--proc without --pid binds the host's /proc", async () => {
    const r = await sh("ls /proc | grep -c '^[0-9]'", ["--proc"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Number(r.stdout) > 5, `host processes visible: ${r.stdout}`);
  });

  test("--hostname shows in hostname", async () => {
    assert.equal((await sh("hostname", ["--hostname", "burrow-box"])).stdout, "burrow-box\n");
  });

  test("--cwd sets the working directory; a missing one is a helper failure", async () => {
    assert.equal((await sh("pwd", ["--cwd", "/etc/apk"])).stdout, "/etc/apk\n");
    assertHelperFailure(await sh("pwd", ["--cwd", "/no/such/dir"]), /--cwd \/no\/such\/dir: No such file/);
  });

  test("the environment passes exactly", async () => {
    const env = { PATH: "/bin:/usr/bin", A: "1", B: "two words", C: "x=y", EMPTY: "" };
    const r = await ns(["--rootfs", rootfs, "--", "/usr/bin/env"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split("\n").sort(), [
      "A=1",
      "B=two words",
      "C=x=y",
      "EMPTY=",
      "PATH=/bin:/usr/bin",
    ]);
  });

  test("stdin is inherited: cat copies it", async () => {
    const input = "hello\nworld\n".repeat(1000);
    assert.equal((await ns(["--rootfs", rootfs, "--", "cat"], { input })).stdout, input);
    assert.equal((await ns(["--rootfs", rootfs, "--pid", "--", "cat"], { input })).stdout, input);
  });

  test("--readonly-root makes the root read-only but not the mounts on it", async () => {
    const r = await sh("touch /x", ["--readonly-root"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Read-only file system/);
    assert.equal((await sh("touch /tmp/x", ["--tmpfs", "/tmp", "--readonly-root"])).code, 0);
  });

  test("--tmpfs takes a size and a mode", async () => {
    const r = await sh("stat -c %a /tmp; df -k /tmp | tail -1", [
      "--proc",
      "--tmpfs",
      "/tmp:size=1m:mode=1777",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [mode, df] = r.stdout.trim().split("\n");
    assert.equal(mode, "1777");
    assert.match(df!, /^tmpfs\s+1024\s/);
  });

  test("--tmpfs ...:noexec: programs cannot be run from it; without it they can", async () => {
    const script =
      "cp /bin/busybox /t/true && /t/true && echo ran; grep ' /t ' /proc/mounts | grep -c noexec";
    const plain = await sh(script, ["--proc", "--tmpfs", "/t"]);
    assert.equal(plain.stdout, "ran\n0\n", plain.stderr);
    const noexec = await sh(script, ["--proc", "--tmpfs", "/t:mode=1777:noexec"]);
    assert.equal(noexec.stdout, "1\n");
    assert.match(noexec.stderr, /Permission denied/);
    const bad = await sh("true", ["--tmpfs", "/t:exec"]);
    assert.equal(bad.code, 125);
    assert.match(
      bad.stderr,
      /^burrow-ns: --tmpfs '\/t:exec': expected DST\[:size=SIZE\]\[:mode=OCTAL\]\[:noexec\]\n$/,
    );
  });

  test("--dev gives a minimal /dev with working null, zero, urandom, pts and shm", async () => {
    const script = [
      "ls /dev | tr '\\n' ' '",
      "echo",
      "echo gone > /dev/null",
      "head -c 4 /dev/zero | wc -c",
      "head -c 16 /dev/urandom | wc -c",
      "touch /dev/shm/x && echo shm-ok",
      "test -d /dev/pts && echo pts-ok",
      "readlink /dev/fd",
    ].join("; ");
    const r = await sh(script, ["--proc", "--dev"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    for (const name of [
      "null",
      "zero",
      "full",
      "random",
      "urandom",
      "tty",
      "pts",
      "shm",
      "ptmx",
      "fd",
      "stdin",
    ])
      assert.ok(lines[0]!.split(" ").includes(name), `/dev has ${name}: ${lines[0]}`);
    assert.deepEqual(lines.slice(1), ["4", "16", "shm-ok", "pts-ok", "/proc/self/fd"]);
    const priv = await sh("readlink /dev/ptmx; grep ' /dev/pts ' /proc/self/mounts", [
      "--proc",
      "--dev",
      "--new-devpts",
    ]);
    assert.equal(priv.code, 0, priv.stderr);
    assert.match(priv.stdout, /^pts\/ptmx\ndevpts \/dev\/pts devpts \S*ptmxmode=666/);
  });

  test("--sys binds the host's /sys read-only", async () => {
    const r = await sh("test -d /sys/kernel && echo ok; touch /sys/kernel/x", ["--sys"]);
    assert.match(r.stdout, /^ok\n/);
    assert.match(r.stderr, /Read-only file system/);
  });

  test("--overlay writes land in UPPER and the lower tree is unchanged", async () => {
    const dir = await userDir("overlay");
    for (const d of ["upper", "work", "merged"]) await fsp.mkdir(path.join(dir, d));
    await giveToTestUser(dir);
    const spec = `${rootfs}:${dir}/upper:${dir}/work`;
    const r = await ns([
      "--overlay",
      spec,
      "--rootfs",
      `${dir}/merged`,
      "--",
      "/bin/sh",
      "-c",
      "echo new > /etc/overlay-new && rm /etc/motd && cat /etc/overlay-new && test ! -e /etc/motd",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "new\n");
    assert.equal(await fsp.readFile(path.join(dir, "upper", "etc", "overlay-new"), "utf8"), "new\n");
    assert.equal(fs.existsSync(path.join(rootfs, "etc", "overlay-new")), false);
    assert.ok(fs.existsSync(path.join(rootfs, "etc", "motd")), "the lower /etc/motd is still there");
    const again = await ns(["--overlay", spec, "--rootfs", `${dir}/merged`, "--", "cat", "/etc/overlay-new"]);
    assert.equal(again.stdout, "new\n", "the upper layer persists across runs");
  });

  test("--overlay ...:volatile: the same layer, mounted volatile where the kernel knows it (5.10+)", async () => {
    const dir = await userDir("overlay-volatile");
    for (const d of ["upper", "work", "merged"]) await fsp.mkdir(path.join(dir, d));
    await giveToTestUser(dir);
    const spec = `${rootfs}:${dir}/upper:${dir}/work:volatile`;
    const script =
      "echo new > /etc/overlay-new && rm /etc/motd && cat /etc/overlay-new && test ! -e /etc/motd";
    const r = await ns(["--overlay", spec, "--rootfs", `${dir}/merged`, "--", "/bin/sh", "-c", script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "new\n");
    assert.equal(await fsp.readFile(path.join(dir, "upper", "etc", "overlay-new"), "utf8"), "new\n");
    assert.ok(fs.existsSync(path.join(rootfs, "etc", "motd")), "the lower /etc/motd is still there");
    const [major, minor] = os.release().split(".").map(Number);
    if (major! > 5 || (major === 5 && minor! >= 10)) {
      // The kernel's mark: a volatile layer may not be mounted again (it may be incomplete after a crash).
      assert.ok(fs.existsSync(path.join(dir, "work", "work", "incompat", "volatile")), "mounted volatile");
    }
  });

  test("--remove-after removes the scratch folder (the overlay layer in it too), never what its links name", async () => {
    const outside = await userDir("remove-after-outside");
    await fsp.writeFile(path.join(outside, "keep"), "keep\n");
    // The caller's own folder holds the scratch folder (removing it writes there).
    const dir = path.join(await userDir("remove-after"), "burrow-run-1");
    for (const d of ["upper", "work", "root", "gen/deep/er"])
      await fsp.mkdir(path.join(dir, d), { recursive: true });
    await fsp.writeFile(path.join(dir, "gen", "deep", "file"), "x");
    await fsp.symlink(outside, path.join(dir, "gen", "link-to-outside"));
    await fsp.symlink(path.join(outside, "keep"), path.join(dir, "gen", "link-to-file"));
    await giveToTestUser(dir);
    const spec = `${rootfs}:${dir}/upper:${dir}/work:volatile`;
    const r = await ns([
      "--overlay",
      spec,
      "--rootfs",
      `${dir}/root`,
      "--pid",
      `--remove-after=${dir}`,
      "--",
      "/bin/sh",
      "-c",
      "echo new > /etc/written && mkdir -p /var/x/y && exit 3",
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(fs.existsSync(dir), false, "the scratch folder is gone when the helper exits");
    assert.equal(await fsp.readFile(path.join(outside, "keep"), "utf8"), "keep\n");
    assert.equal(fs.existsSync(path.join(rootfs, "etc", "written")), false);
  });

  test("--squashfs-share needs --squashfs, not --map-all, and an absolute path", async () => {
    const sq = [
      `--overlay=${rootfs}:${rootfs}:${rootfs}`,
      "--squashfs=/x.sqfs",
      "--squashfuse=/bin/true",
      "--pid",
      "--proc",
    ];
    assertHelperFailure(
      await ns(["--rootfs", rootfs, "--squashfs-share=/tmp/m", "--", "true"]),
      /--squashfs-share needs --squashfs, and not --map-all/,
    );
    assertHelperFailure(
      await ns(["--rootfs", rootfs, ...sq, "--map-all", "--squashfs-share=/tmp/m", "--", "true"]),
      /--squashfs-share needs --squashfs, and not --map-all/,
    );
    assertHelperFailure(
      await ns(["--rootfs", rootfs, ...sq, "--squashfs-share=tmp/../m", "--", "true"]),
      /--squashfs-share takes an absolute path without \. or \.\./,
    );
  });

  test("--squashfs-enter: its usage in one line, absolute paths only", async () => {
    assertHelperFailure(await ns(["--squashfs-enter", "/x.sqfs"]), /usage: burrow-ns --squashfs-enter FILE/);
    assertHelperFailure(
      await ns(["--squashfs-enter", "x.sqfs", "/bin/true", "/tmp/m", "/tmp/w", "--", "true"]),
      /--squashfs-enter takes absolute paths/,
    );
  });

  test("--remove-after needs --pid and a folder", async () => {
    const dir = await userDir("burrow-run");
    assertHelperFailure(
      await ns(["--rootfs", rootfs, `--remove-after=${dir}`, "--", "true"]),
      /--remove-after needs --pid/,
    );
    assertHelperFailure(
      await ns(["--rootfs", rootfs, "--pid", "--remove-after=/", "--", "true"]),
      /--remove-after '\/': must be an absolute path/,
    );
    assertHelperFailure(
      await ns(["--rootfs", rootfs, "--pid", `--remove-after=${dir}/missing`, "--", "true"]),
      /--remove-after .*missing/,
    );
    assert.ok(fs.existsSync(dir), "a refused run removes nothing");
  });
});

describe("--fake-root", () => {
  test("chown and device mknod succeed as no-ops; without it chown fails", async () => {
    const script = "touch /tmp/f && chown 123:456 /tmp/f && mknod /tmp/c c 1 3 && mkfifo /tmp/p && ls /tmp";
    const r = await sh(script, ["--tmpfs", "/tmp", "--fake-root"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "f\np\n", "the fifo is real, the device node is not made");
    const plain = await sh("touch /tmp/f && chown 123:456 /tmp/f", ["--tmpfs", "/tmp"]);
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, /Invalid argument|Operation not permitted/);
  });

  test("setuid-family calls succeed without changing the ids", async () => {
    // busybox su switches to the target user with setgid/setuid, then execs the shell.
    const r = await sh("su -s /bin/sh nobody -c 'id -u'", ["--fake-root"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "0\n");
    const plain = await sh("su -s /bin/sh nobody -c 'id -u'");
    assert.notEqual(plain.code, 0);
  });
});

describe("signals", () => {
  const trapScript = 'trap "echo got-term; exit 3" TERM; echo ready; while :; do sleep 0.1; done';

  for (const mode of [[], ["--pid"]]) {
    test(`SIGTERM to the helper reaches the program${mode.length ? " through the --pid init" : ""}`, async () => {
      const run = start(["--rootfs", rootfs, ...mode, "--", "/bin/sh", "-c", trapScript]);
      await run.waitFor("ready");
      run.child.kill("SIGTERM");
      const { code } = await run.exited;
      assert.equal(code, 3, JSON.stringify(run.output()));
      assert.match(run.output().stdout, /got-term/);
    });
  }

  test("with --pid a signal to the caller's whole process group reaches the program once", async () => {
    const script =
      'n=0; trap "n=\\$((n+1))" USR1; echo ready; i=0; while [ $i -lt 10 ]; do sleep 0.1; i=$((i+1)); done; echo total $n';
    const run = start(["--rootfs", rootfs, "--pid", "--", "/bin/sh", "-c", script], true);
    await run.waitFor("ready");
    process.kill(-run.child.pid!, "SIGUSR1");
    const { code } = await run.exited;
    assert.equal(code, 0, JSON.stringify(run.output()));
    assert.match(run.output().stdout, /total 1\n/);
  });

  test("with --pid, killing the helper takes the whole container down", async () => {
    const marker = `${900 + (process.pid % 90)}`;
    const run = start(["--rootfs", rootfs, "--pid", "--", "/bin/sh", "-c", `echo ready; sleep ${marker}`]);
    await run.waitFor("ready");
    assert.ok(processesMatching(`sleep ${marker}`).length > 0, "the program runs");
    run.child.kill("SIGKILL");
    await run.exited;
    const until = Date.now() + 5000;
    while (processesMatching(`sleep ${marker}`).length > 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(processesMatching(`sleep ${marker}`), []);
  });
});
