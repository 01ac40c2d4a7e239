// The test driver behind `npm test`: prerequisites, test user, staged CLI, PKI, real registries, then node --test.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEBIAN_ENV, DEBIAN_ERROR_ENV, ensureDebianImage } from "./debian.js";
import { locateFixtures, ALPINE } from "./fixtures.js";
import { makeTestPki } from "./pki.js";
import type { TestPki } from "./pki.js";
import { ensurePrerequisites } from "./prerequisites.js";
import { runProgram } from "./proc.js";
import { startRegistry } from "./registry-server.js";
import type { RunningRegistry } from "./registry-server.js";
import { removeTree } from "./remove-tree.js";
import { stagePackage } from "./staging.js";
import { ensureTestUser, userCanRead } from "./test-user.js";
import type { TestUser } from "./test-user.js";
import { startTokenServer } from "./token-server.js";
import type { TokenServer } from "./token-server.js";

/** The repository root: this file is dist/test/harness/run.js. */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
/** Prefix of the harness's scratch folders in the system temp folder. */
const SCRATCH_PREFIX = "burrow-test-";
/** The test tiers run by default, in order. */
const DEFAULT_ROOTS = ["dist/test/unit", "dist/test/integration", "dist/test/e2e"];
const AUTH_USER = "tester";
const TOKEN_SERVICE = "burrow-test-registry";
const TOKEN_ISSUER = "burrow-test-issuer";

const log = (line: string): void => {
  process.stdout.write(`harness: ${line}\n`);
};
const seconds = (since: number): string => `${((Date.now() - since) / 1000).toFixed(2)} s`;

/** What the command line asked for. */
interface Args {
  files: string[];
  nodeTestArgs: string[];
  serve: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { files: [], nodeTestArgs: [], serve: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      args.nodeTestArgs.push(...argv.slice(i + 1));
      break;
    } else if (a === "--serve") {
      args.serve = true;
    } else if (a === "-h" || a === "--help") {
      process.stdout.write(
        "usage: node dist/test/harness/run.js [--serve] [FILE|DIR...] [-- NODE_TEST_ARGS...]\n" +
          "  no FILE: every *.test.js under dist/test/{unit,integration,e2e}\n" +
          "  test/x/y.test.ts is read as dist/test/x/y.test.js\n" +
          "  --serve: set everything up, print the environment, wait for Ctrl-C\n" +
          "  BURROW_TEST_KEEP=1 keeps the scratch folder\n",
      );
      process.exit(0);
    } else {
      args.files.push(a);
    }
  }
  return args;
}

/** Every *.test.js under `dir`, sorted. */
async function findTests(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await fsp.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && e.name.endsWith(".test.js")) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/** The compiled test files to run: the arguments (files or folders), else the default tiers. */
async function testFiles(requested: string[]): Promise<string[]> {
  if (requested.length === 0) {
    const files: string[] = [];
    for (const root of DEFAULT_ROOTS) {
      for (const f of await findTests(path.join(REPO_ROOT, root))) {
        // A compiled test whose source is gone is stale build output, not a test.
        const source = path
          .join(REPO_ROOT, path.relative(path.join(REPO_ROOT, "dist"), f))
          .replace(/\.js$/, ".ts");
        if (fs.existsSync(source)) files.push(f);
        else
          log(
            `ignoring ${path.relative(REPO_ROOT, f)}: its source ${path.relative(REPO_ROOT, source)} is gone`,
          );
      }
    }
    if (files.length === 0)
      throw new Error(`no *.test.js under ${DEFAULT_ROOTS.join(", ")}: run npm run build`);
    return files;
  }
  const files: string[] = [];
  for (const r of requested) {
    let p = path.resolve(r);
    const rel = path.relative(REPO_ROOT, p);
    if (rel.startsWith(`test${path.sep}`) && p.endsWith(".ts"))
      p = path.join(REPO_ROOT, "dist", rel.replace(/\.ts$/, ".js"));
    const st = await fsp.stat(p).catch(() => undefined);
    if (!st) throw new Error(`${r}: no such test file or folder (did you run npm run build?)`);
    files.push(...(st.isDirectory() ? await findTests(p) : [p]));
  }
  return files;
}

/** True when process `pid` is alive (a zombie awaiting its parent's wait() is not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  const stat = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, "utf8") : "";
  return !/\) Z /.test(stat);
}

/** Removes scratch folders of earlier runs whose harness is gone (killed before it could clean up). */
async function removeStaleScratch(): Promise<void> {
  const tmp = os.tmpdir();
  const names = await fsp.readdir(tmp).catch(() => [] as string[]);
  for (const n of names.filter((x) => x.startsWith(SCRATCH_PREFIX))) {
    const dir = path.join(tmp, n);
    const pid = Number(await fsp.readFile(path.join(dir, "harness.pid"), "utf8").catch(() => "NaN"));
    if (!Number.isInteger(pid) || alive(pid)) continue;
    const st = await fsp.lstat(dir).catch(() => undefined);
    if (!st || st.uid !== process.getuid?.()) continue;
    await removeTree(dir).then(
      () => log(`removed ${dir}, left by an earlier run (pid ${pid})`),
      (err: Error) => log(`could not remove ${dir} left by an earlier run: ${err.message}`),
    );
  }
}

/** Everything setUp made, for tearDown. */
interface Setup {
  scratch: string;
  registries: RunningRegistry[];
  tokenServer?: TokenServer;
  env: Record<string, string>;
  /** /dev/fuse's mode before the harness opened it, to put back at the end. */
  fuseMode?: number;
}

/**
 * Opens /dev/fuse to every user (0666, as Debian's udev rule makes it) for the whole run, where a machine
 * built from a container image has it 0600: the unprivileged test user's FUSE mounts (SquashFUSE,
 * fuse-overlayfs) need it. Once for all the test files, which run side by side: a file that put the mode
 * back when it ended would close it under another that is still running. Put back in tearDown.
 */
function openDevFuseForRun(setup: Setup): void {
  if (process.getuid?.() !== 0 || !fs.existsSync("/dev/fuse")) return;
  const mode = fs.statSync("/dev/fuse").mode & 0o777;
  if ((mode & 0o006) === 0o006) return;
  fs.chmodSync("/dev/fuse", 0o666);
  setup.fuseMode = mode;
  log(
    `/dev/fuse: opened to all users (0666, as udev makes it) for the run; ${mode.toString(8)} put back at the end`,
  );
}

/** Writes the bcrypt password file of the auth registry. */
async function writeHtpasswd(file: string, user: string, password: string): Promise<void> {
  const r = await runProgram("htpasswd", ["-B", "-b", "-n", user, password]);
  await fsp.writeFile(file, r.stdout, { mode: 0o600 });
}

/**
 * The fixtures folder as the test user can read it: the shared one, or a copy in the scratch folder.
 * When there is none, the reason instead: the tests that need a fixture fail with it, the others run.
 */
async function readableFixtures(
  user: TestUser,
  scratch: string,
): Promise<{ dir: string } | { error: string }> {
  let dir: string;
  try {
    dir = await locateFixtures(REPO_ROOT, log);
  } catch (err) {
    const error = (err as Error).message;
    log(`fixtures: MISSING; every test that needs them will fail: ${error}`);
    return { error };
  }
  if (await userCanRead(user, path.join(dir, ALPINE.file))) return { dir };
  const copy = path.join(scratch, "fixtures");
  await fsp.cp(dir, copy, { recursive: true });
  await runProgram("chmod", ["-R", "a+rX", copy]);
  log(`fixtures: ${user.name} cannot read ${dir}, copied to ${copy}`);
  return { dir: copy };
}

/** Starts the registries: plain HTTP, TLS, TLS + htpasswd, TLS + token auth, plain HTTP with schema 1. */
async function startRegistries(setup: Setup, pki: TestPki, password: string): Promise<void> {
  const t0 = Date.now();
  const regDir = (name: string): string => path.join(setup.scratch, "registries", name);
  const htpasswd = path.join(setup.scratch, "registries", "htpasswd");
  await fsp.mkdir(path.join(setup.scratch, "registries"), { recursive: true });
  const [, tokenServer] = await Promise.all([
    writeHtpasswd(htpasswd, AUTH_USER, password),
    startTokenServer({
      tlsCert: pki.serverCert,
      tlsKey: pki.serverKey,
      signingCert: pki.tokenCert,
      signingKey: pki.tokenKey,
      service: TOKEN_SERVICE,
      issuer: TOKEN_ISSUER,
      username: AUTH_USER,
      password,
    }),
  ]);
  setup.tokenServer = tokenServer;
  const tls = { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert };
  const starts = [
    startRegistry({ name: "plain", dir: regDir("plain"), auth: { kind: "none" } }),
    startRegistry({ name: "tls", dir: regDir("tls"), tls, auth: { kind: "none" } }),
    startRegistry({ name: "auth", dir: regDir("auth"), tls, auth: { kind: "htpasswd", file: htpasswd } }),
    startRegistry({
      name: "token",
      dir: regDir("token"),
      tls,
      auth: {
        kind: "token",
        realm: tokenServer.realm,
        service: TOKEN_SERVICE,
        issuer: TOKEN_ISSUER,
        rootCertBundle: pki.tokenCert,
      },
    }),
    startRegistry({ name: "schema1", dir: regDir("schema1"), auth: { kind: "none" }, schema1: true }),
  ];
  // Keep every registry that did start so that tearDown stops it even when another failed.
  const results = await Promise.allSettled(starts);
  for (const r of results) if (r.status === "fulfilled") setup.registries.push(r.value);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const desc = setup.registries.map((r) => `${r.name}=${r.host}`).join(" ");
  log(`registries: ${desc} answer /v2/ (token realm ${tokenServer.realm}) in ${seconds(t0)}`);
}

/** Prepares everything and returns the environment the tests get. */
async function setUp(setup: Setup): Promise<void> {
  const t0 = Date.now();
  await removeStaleScratch();
  await ensurePrerequisites(log);
  // The userns helper is built by `npm run build` when a C compiler is there; on a fresh machine the
  // compiler may only have been installed just now, so build it if it is still missing.
  for (const engine of ["userns", "runc", "proot"]) {
    const built = await runProgram(
      "sh",
      [path.join(REPO_ROOT, `engines/${engine}/build.sh`), "--if-missing"],
      {
        cwd: REPO_ROOT,
      },
    );
    const helperLine = (built.stdout + built.stderr).trim().split("\n").pop();
    if (helperLine) log(`${engine} helper: ${helperLine}`);
  }
  await fsp.chmod(setup.scratch, 0o755);
  await fsp.writeFile(path.join(setup.scratch, "harness.pid"), String(process.pid));
  openDevFuseForRun(setup);
  const homes = path.join(setup.scratch, "homes");
  await fsp.mkdir(homes, { mode: 0o755 });
  await fsp.chmod(homes, 0o755);
  // The test processes' TMPDIR, so that whatever they leave in os.tmpdir() goes with the scratch folder.
  const tmp = path.join(setup.scratch, "tmp");
  await fsp.mkdir(tmp);
  await fsp.chmod(tmp, 0o1777);
  const pkiDir = path.join(setup.scratch, "pki");
  await fsp.mkdir(pkiDir);
  const password = randomBytes(12).toString("hex");

  const [user, pki, pkg] = await Promise.all([
    ensureTestUser(log),
    makeTestPki(pkiDir).then(
      (p) => (log(`pki: test CA and server certificate for 127.0.0.1/localhost in ${pkiDir}`), p),
    ),
    (async () => {
      const t = Date.now();
      if (!fs.existsSync(path.join(REPO_ROOT, "dist", "src", "cli", "main.js"))) {
        throw new Error("dist/src/cli/main.js is missing: run npm run build first");
      }
      const p = await stagePackage(REPO_ROOT, setup.scratch);
      log(`staging: CLI copied to ${p} in ${seconds(t)}`);
      return p;
    })(),
  ]);
  const [fixtures, debian] = await Promise.all([
    readableFixtures(user, setup.scratch),
    ensureDebianImage(log),
    startRegistries(setup, pki, password),
  ]);
  const cli = path.join(pkg, "dist", "src", "cli", "main.js");
  for (const needed of [process.execPath, cli, pki.caCert]) {
    if (!(await userCanRead(user, needed))) {
      throw new Error(
        `the test user ${user.name} cannot read ${needed}; move it where every user can read it`,
      );
    }
  }
  const [plain, tls, auth, token, schema1] = setup.registries;
  setup.env = {
    BURROW_TEST_CLI: cli,
    BURROW_TEST_USER: user.name,
    BURROW_TEST_UID: String(user.uid),
    BURROW_TEST_GID: String(user.gid),
    BURROW_TEST_REGISTRY_PLAIN: plain!.host,
    BURROW_TEST_REGISTRY_TLS: tls!.host,
    BURROW_TEST_REGISTRY_AUTH: auth!.host,
    BURROW_TEST_REGISTRY_TOKEN: token!.host,
    BURROW_TEST_REGISTRY_SCHEMA1: schema1!.host,
    BURROW_TEST_CA: pki.caCert,
    BURROW_TEST_CERT_DIR: pki.certDir,
    BURROW_TEST_AUTH_USER: AUTH_USER,
    BURROW_TEST_AUTH_PASSWORD: password,
    BURROW_TEST_FIXTURES: "dir" in fixtures ? fixtures.dir : "",
    BURROW_TEST_ALPINE: "dir" in fixtures ? path.join(fixtures.dir, ALPINE.file) : "",
    BURROW_TEST_FIXTURES_ERROR: "error" in fixtures ? fixtures.error : "",
    [DEBIAN_ENV]: "file" in debian ? debian.file : "",
    [DEBIAN_ERROR_ENV]: "error" in debian ? debian.error : "",
    BURROW_TEST_TMP: homes,
    TMPDIR: tmp,
  };
  log(`ready in ${seconds(t0)}`);
}

/** Stops the servers and removes the scratch folder (kept with BURROW_TEST_KEEP=1). */
async function tearDown(setup: Setup, failed: boolean): Promise<void> {
  if (failed) {
    for (const r of setup.registries) {
      const text = await fsp.readFile(r.logFile, "utf8").catch(() => "");
      // Lookups of absent blobs and auth challenges are routine; the rest may explain a failure.
      const routine =
        /blob unknown|manifest unknown|error authorizing context|authorization token required|authentication failure/;
      const lines = text.split("\n").filter((l) => l.trim() && !routine.test(l));
      const tail = lines.slice(-10).join("\n");
      if (tail) log(`last lines of the ${r.name} registry's log:\n${tail}`);
    }
  }
  await Promise.all([...setup.registries.map((r) => r.stop()), setup.tokenServer?.stop()]);
  if (setup.fuseMode !== undefined) fs.chmodSync("/dev/fuse", setup.fuseMode);
  if (process.env.BURROW_TEST_KEEP) {
    log(`kept ${setup.scratch} (BURROW_TEST_KEEP is set)`);
  } else {
    await removeTree(setup.scratch).catch((err: Error) =>
      log(`could not remove ${setup.scratch}: ${err.message}`),
    );
  }
  log("torn down: registries stopped, scratch folder removed");
}

/** Runs node --test on `files` with the harness's environment; resolves with its exit status. */
function runNodeTest(
  files: string[],
  env: Record<string, string>,
  extra: string[],
  track: (c: ChildProcess) => void,
) {
  const args = ["--test", "--test-concurrency=2", "--test-reporter=spec", ...extra, ...files];
  log(`running ${files.length} test file(s): node ${args.slice(0, 3 + extra.length).join(" ")} ...`);
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, ...env },
  });
  track(child);
  return new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) =>
      resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)),
    );
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const files = args.serve ? [] : await testFiles(args.files);
  const setup: Setup = {
    scratch: await fsp.mkdtemp(path.join(os.tmpdir(), SCRATCH_PREFIX)),
    registries: [],
    env: {},
  };
  let child: ChildProcess | undefined;
  let tornDown: Promise<void> | undefined;
  const finish = (failed: boolean): Promise<void> => (tornDown ??= tearDown(setup, failed));
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      log(`${sig}: stopping`);
      child?.kill(sig);
      void finish(true).then(() => process.exit(128 + os.constants.signals[sig]));
    });
  }
  let status = 1;
  try {
    await setUp(setup);
    if (args.serve) {
      for (const [k, v] of Object.entries(setup.env)) process.stdout.write(`export ${k}='${v}'\n`);
      log("serving; press Ctrl-C to tear down");
      await new Promise(() => undefined);
    }
    status = await runNodeTest(files, setup.env, args.nodeTestArgs, (c) => (child = c));
    log(status === 0 ? "tests passed" : `tests failed (node --test exited with ${status})`);
  } catch (err) {
    log(`error: ${(err as Error).message}`);
    status = 1;
  } finally {
    await finish(status !== 0);
  }
  return status;
}

process.exitCode = await main();
