// What test files get from the harness: its settings (from the environment) and helpers that run the CLI as the test user.
import { spawn } from "node:child_process";
import type { ChildProcess, ChildProcessWithoutNullStreams } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { RegistryTarget } from "./registry-client.js";
import { removeTree } from "./remove-tree.js";
import { asUser } from "./test-user.js";
import type { TestUser } from "./test-user.js";

/**
 * The names of the registries the harness starts: plain HTTP, TLS, TLS + htpasswd (Basic), TLS +
 * Bearer tokens, and plain HTTP that also accepts Docker schema 1 manifests.
 */
export type RegistryName = "plain" | "tls" | "auth" | "token" | "schema1";

/** Everything the harness set up, read from the BURROW_TEST_* variables. */
export interface TestEnv {
  /** The staged CLI entry point (dist/src/cli/main.js in a copy the test user can read). */
  cli: string;
  /** The staged package root (holding package.json, dist/, node_modules/, engines/, vendor/). */
  packageRoot: string;
  /** Who the CLI runs as; `name` is empty when the tests are not run as root. */
  user: TestUser;
  /** host:port of each registry, with the TLS and credential settings a client needs. */
  registries: Record<RegistryName, RegistryTarget>;
  /** Path of the test CA certificate (readable by the test user) and its PEM. */
  ca: string;
  caPem: Buffer;
  /** A folder holding only ca.crt, for `skopeo --cert-dir`. */
  certDir: string;
  authUser: string;
  authPassword: string;
  /**
   * The shared fixtures folder and the Alpine minirootfs tarball in it, readable by the test user.
   * Reading them throws (failing the test, with the harness's reason) when the harness found none.
   */
  readonly fixtures: string;
  readonly alpine: string;
  /** The harness's scratch folder; test homes are made in it and it is removed at the end. */
  tmp: string;
}

/** The variables the harness exports, for the error message and for `npm test` users who run files by hand. */
export const ENV_VARS = [
  "BURROW_TEST_CLI",
  "BURROW_TEST_USER",
  "BURROW_TEST_UID",
  "BURROW_TEST_GID",
  "BURROW_TEST_REGISTRY_PLAIN",
  "BURROW_TEST_REGISTRY_TLS",
  "BURROW_TEST_REGISTRY_AUTH",
  "BURROW_TEST_REGISTRY_TOKEN",
  "BURROW_TEST_REGISTRY_SCHEMA1",
  "BURROW_TEST_CA",
  "BURROW_TEST_CERT_DIR",
  "BURROW_TEST_AUTH_USER",
  "BURROW_TEST_AUTH_PASSWORD",
  "BURROW_TEST_FIXTURES",
  "BURROW_TEST_ALPINE",
  "BURROW_TEST_TMP",
] as const;

let cached: TestEnv | undefined;

/** The harness's settings; throws a clear error when the test was not started by the harness. */
export function testEnv(): TestEnv {
  if (cached) return cached;
  const e = process.env;
  const missing = ENV_VARS.filter((v) => e[v] === undefined);
  if (missing.length > 0) {
    throw new Error(
      `this test needs the test harness (missing ${missing.join(", ")}): run the integration tests through ` +
        "`npm test`, or one file with `node dist/test/harness/run.js dist/test/integration/FILE.test.js`",
    );
  }
  const v = (name: (typeof ENV_VARS)[number]): string => e[name]!;
  const fixture = (name: "BURROW_TEST_FIXTURES" | "BURROW_TEST_ALPINE"): string => {
    if (v(name)) return v(name);
    throw new Error(
      `this test needs the shared fixtures, which the harness did not find: ${e.BURROW_TEST_FIXTURES_ERROR}`,
    );
  };
  const caPem = fs.readFileSync(v("BURROW_TEST_CA"));
  const auth = { username: v("BURROW_TEST_AUTH_USER"), password: v("BURROW_TEST_AUTH_PASSWORD") };
  const cli = v("BURROW_TEST_CLI");
  cached = {
    cli,
    packageRoot: path.resolve(path.dirname(cli), "..", "..", ".."),
    user: {
      name: v("BURROW_TEST_USER"),
      uid: Number(v("BURROW_TEST_UID")),
      gid: Number(v("BURROW_TEST_GID")),
    },
    registries: {
      plain: { host: v("BURROW_TEST_REGISTRY_PLAIN"), tls: false },
      tls: { host: v("BURROW_TEST_REGISTRY_TLS"), tls: true, ca: caPem },
      auth: { host: v("BURROW_TEST_REGISTRY_AUTH"), tls: true, ca: caPem, auth },
      token: { host: v("BURROW_TEST_REGISTRY_TOKEN"), tls: true, ca: caPem, auth },
      schema1: { host: v("BURROW_TEST_REGISTRY_SCHEMA1"), tls: false },
    },
    ca: v("BURROW_TEST_CA"),
    caPem,
    certDir: v("BURROW_TEST_CERT_DIR"),
    authUser: auth.username,
    authPassword: auth.password,
    get fixtures() {
      return fixture("BURROW_TEST_FIXTURES");
    },
    get alpine() {
      return fixture("BURROW_TEST_ALPINE");
    },
    tmp: v("BURROW_TEST_TMP"),
  };
  return cached;
}

/** A temporary HOME owned by the test user, with a store folder inside it. */
export interface TestHome {
  /** The HOME directory. */
  dir: string;
  /** The BURROW_DIR runBurrow uses with this home unless told otherwise. */
  burrowDir: string;
  /** Removes the home and everything the CLI left in it. */
  cleanup(): Promise<void>;
}

/** Gives `target` (recursively) to the test user; does nothing when the tests do not run as root. */
export async function chownToTestUser(target: string): Promise<void> {
  const { user } = testEnv();
  if (process.getuid?.() !== 0 || !user.name) return;
  const walk = async (p: string): Promise<void> => {
    await fsp.lchown(p, user.uid, user.gid);
    const st = await fsp.lstat(p);
    if (st.isDirectory()) {
      for (const n of await fsp.readdir(p)) await walk(path.join(p, n));
    }
  };
  await walk(target);
}

/** Makes a fresh HOME (mode 0700) for the test user in the harness's scratch folder. */
export async function makeTestHome(): Promise<TestHome> {
  const env = testEnv();
  const dir = await fsp.mkdtemp(path.join(env.tmp, "home-"));
  await fsp.chmod(dir, 0o700);
  await chownToTestUser(dir);
  return { dir, burrowDir: path.join(dir, "store"), cleanup: () => removeTree(dir) };
}

let defaultHome: Promise<TestHome> | undefined;

/** The home runBurrow uses when given none: one per test file (each file runs in its own process). */
export function defaultTestHome(): Promise<TestHome> {
  defaultHome ??= makeTestHome();
  return defaultHome;
}

/** Options for runBurrow and spawnBurrow. */
export interface BurrowRunOptions {
  /** Variables to add; a variable set to undefined is removed (e.g. `{ BURROW_DIR: undefined }`). */
  env?: Record<string, string | undefined>;
  /** Bytes for the CLI's stdin; stdin is closed after them (and is empty when not given). */
  input?: string | Buffer;
  /** HOME for the run: a TestHome or a path; defaults to this file's defaultTestHome(). */
  home?: TestHome | string;
  /** Kill the CLI and fail after this long (default 120 s). */
  timeoutMs?: number;
  /** Working directory (default: the home). */
  cwd?: string;
}

/** What runBurrow reports. */
export interface BurrowResult {
  /** The arguments burrow ran with (`burrow ...args`). */
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The clean environment the CLI gets: the home, its store, the test CA, no colour, CI=true. */
export function burrowEnv(
  homeDir: string,
  extra: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  const env = testEnv();
  const user = env.user.name || (process.env.USER ?? "");
  const result: Record<string, string | undefined> = {
    HOME: homeDir,
    USER: user,
    LOGNAME: user,
    PATH: [
      path.dirname(process.execPath),
      "/usr/local/bin",
      "/usr/bin",
      "/bin",
      "/usr/local/sbin",
      "/usr/sbin",
      "/sbin",
    ]
      .filter((d, i, all) => all.indexOf(d) === i)
      .join(":"),
    LANG: "C.UTF-8",
    TERM: "dumb",
    NO_COLOR: "1",
    CI: "true",
    BURROW_DIR: path.join(homeDir, "store"),
    NODE_EXTRA_CA_CERTS: env.ca,
    ...extra,
  };
  for (const k of Object.keys(result)) if (result[k] === undefined) delete result[k];
  return result as NodeJS.ProcessEnv;
}

/** Children still running, killed when the test process exits so that none outlives its test file. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

async function prepare(args: string[], opts: BurrowRunOptions) {
  const env = testEnv();
  const home = opts.home ?? (await defaultTestHome());
  const homeDir = typeof home === "string" ? home : home.dir;
  const argv = asUser(env.user, [process.execPath, "--", env.cli, ...args]);
  return { argv, homeDir, childEnv: burrowEnv(homeDir, opts.env) };
}

/** Starts `burrow ...args` as the test user and returns the process (stdio piped) for kill and stream tests. */
export async function spawnBurrow(
  args: string[],
  opts: Omit<BurrowRunOptions, "input" | "timeoutMs"> = {},
): Promise<ChildProcessWithoutNullStreams> {
  const { argv, homeDir, childEnv } = await prepare(args, opts);
  const child = spawn(argv[0]!, argv.slice(1), { env: childEnv, cwd: opts.cwd ?? homeDir, stdio: "pipe" });
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

/** Runs `burrow ...args` as the test user and collects its exit status and output. */
export async function runBurrow(args: string[], opts: BurrowRunOptions = {}): Promise<BurrowResult> {
  const child = await spawnBurrow(args, opts);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => out.push(b));
  child.stderr.on("data", (b: Buffer) => err.push(b));
  child.stdin.on("error", () => {
    // The CLI may exit without reading its input.
  });
  child.stdin.end(opts.input ?? "");
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start burrow ${args.join(" ")}: ${e.message}`, { cause: e }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const result = {
        args,
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      };
      if (timedOut) {
        reject(
          new Error(
            `burrow ${args.join(" ")} did not finish within ${timeoutMs} ms and was killed\n` +
              `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
          ),
        );
      } else {
        resolve(result);
      }
    });
  });
}

/** The argv that runs `argv` as the test user (for other programs a test wants to run as that user). */
export function asTestUser(argv: string[]): string[] {
  return asUser(testEnv().user, argv);
}
