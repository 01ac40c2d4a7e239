// The Debian test image: a `debootstrap --variant=minbase` rootfs as one gzip layer, built once as root and cached.
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { findProgram } from "./prerequisites.js";
import { runProgram } from "./proc.js";
import { removeTree } from "./remove-tree.js";

/** What is built, and the cache key: a change here must change `version` so that old caches are rebuilt. */
export const DEBIAN = {
  suite: "bookworm",
  variant: "minbase",
  mirror: "http://deb.debian.org/debian",
  /** Bump when the build recipe changes. */
  version: "1",
} as const;

/** Where the tarball is cached across runs (root-owned; override with BURROW_TEST_CACHE). */
export function debianCacheDir(): string {
  return process.env.BURROW_TEST_CACHE ?? "/var/cache/burrow-test";
}

/** The cached layer's path, keyed by suite, variant, architecture and recipe version. */
export function debianTarballPath(): string {
  return path.join(
    debianCacheDir(),
    `debian-${DEBIAN.suite}-${DEBIAN.variant}-${process.arch}-v${DEBIAN.version}.tar.gz`,
  );
}

/** The variable the harness exports the tarball's path in (empty when it has none) and its reason. */
export const DEBIAN_ENV = "BURROW_TEST_DEBIAN";
export const DEBIAN_ERROR_ENV = "BURROW_TEST_DEBIAN_ERROR";

/** In a test: the Debian layer tarball; throws the harness's reason (failing the test) when there is none. */
export function debianTarball(): string {
  const file = process.env[DEBIAN_ENV];
  if (file) return file;
  if (file === undefined) {
    throw new Error(
      `this test needs the test harness (${DEBIAN_ENV} is unset): run it through npm test or ` +
        "node dist/test/harness/run.js FILE",
    );
  }
  throw new Error(
    `this test needs the Debian test image, which the harness could not make: ${
      process.env[DEBIAN_ERROR_ENV] ?? "no reason given"
    }`,
  );
}

const exists = (p: string): Promise<boolean> =>
  fsp.access(p).then(
    () => true,
    () => false,
  );

/** True when process `pid` exists (EPERM: it exists but is someone else's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes the build lock (a directory holding the owner's pid), waiting while a live harness holds it
 * and taking over one left by a dead harness. Resolves false when the tarball appeared meanwhile.
 */
async function lock(lockDir: string, target: string, log: (line: string) => void): Promise<boolean> {
  let said = false;
  for (;;) {
    if (await exists(target)) return false;
    try {
      await fsp.mkdir(lockDir);
      await fsp.writeFile(path.join(lockDir, "pid"), String(process.pid));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = Number(await fsp.readFile(path.join(lockDir, "pid"), "utf8").catch(() => "NaN"));
    const age =
      Date.now() -
      (await fsp
        .stat(lockDir)
        .then((s) => s.mtimeMs)
        .catch(() => Date.now()));
    // No pid yet: the owner is between mkdir and writeFile; give it a few seconds.
    if ((Number.isInteger(pid) && !alive(pid)) || (!Number.isInteger(pid) && age > 10_000)) {
      log(`debian: removing a stale build lock (pid ${pid}) in ${lockDir}`);
      await removeTree(lockDir);
      continue;
    }
    if (!said) log(`debian: another harness (pid ${pid}) is building the image; waiting for it`);
    said = true;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Installs debootstrap with apt-get when it is missing (as root). */
async function debootstrapProgram(log: (line: string) => void): Promise<string> {
  const found = await findProgram("debootstrap");
  if (found) return found;
  const aptGet = await findProgram("apt-get");
  if (!aptGet) throw new Error("debootstrap is missing and there is no apt-get to install it with");
  log("debian: installing debootstrap");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await runProgram(aptGet, ["install", "-y", "--no-install-recommends", "debootstrap"], { env }).catch(
    async () => {
      await runProgram(aptGet, ["update"], { env });
      await runProgram(aptGet, ["install", "-y", "--no-install-recommends", "debootstrap"], { env });
    },
  );
  const installed = await findProgram("debootstrap");
  if (!installed) throw new Error("apt-get installed debootstrap but the program is still missing");
  return installed;
}

/** Runs debootstrap into `rootfs` and packs it as one layer `out` (device nodes and the apt caches left out). */
async function build(rootfs: string, out: string, log: (line: string) => void): Promise<void> {
  const debootstrap = await debootstrapProgram(log);
  const t0 = Date.now();
  log(
    `debian: debootstrap --variant=${DEBIAN.variant} ${DEBIAN.suite} from ${DEBIAN.mirror} (a few minutes)`,
  );
  await runProgram(
    debootstrap,
    [`--variant=${DEBIAN.variant}`, DEBIAN.suite, rootfs, DEBIAN.mirror],
    // debootstrap reads no stdin; a long timeout still bounds a hung mirror.
    { timeoutMs: 20 * 60_000, env: { ...process.env, LANG: "C.UTF-8", DEBIAN_FRONTEND: "noninteractive" } },
  ).catch((err: Error) => {
    const logFile = path.join(rootfs, "debootstrap", "debootstrap.log");
    const tail = fs.existsSync(logFile)
      ? fs.readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n")
      : "";
    throw new Error(`debootstrap failed: ${err.message}${tail ? `\nlast lines of its log:\n${tail}` : ""}`);
  });
  log(`debian: debootstrap done in ${((Date.now() - t0) / 1000).toFixed(0)} s; packing the layer`);
  // What image builders drop too: downloaded packages and lists (the tests work offline).
  for (const d of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
    for (const n of await fsp.readdir(path.join(rootfs, d)).catch(() => [] as string[])) {
      if (n.endsWith(".deb") || (d.endsWith("lists") && n !== "partial" && n !== "lock")) {
        await fsp.rm(path.join(rootfs, d, n), { force: true });
      }
    }
  }
  const gzip = (await findProgram("pigz")) ?? "gzip";
  await runProgram("tar", [
    "--numeric-owner",
    "--sort=name",
    "--exclude=./dev/*",
    "--exclude=./proc/*",
    "--exclude=./sys/*",
    "-I",
    gzip,
    "-C",
    rootfs,
    "-cf",
    out,
    ".",
  ]);
}

/**
 * The Debian layer tarball, built when the cache lacks it (as root only: debootstrap needs root).
 * Resolves to the reason instead when it cannot be had, so that only the tests using it fail.
 */
export async function ensureDebianImage(
  log: (line: string) => void,
): Promise<{ file: string } | { error: string }> {
  const target = debianTarballPath();
  if (await exists(target)) {
    log(`debian: ${target} (cached)`);
    return { file: target };
  }
  if (process.getuid?.() !== 0) {
    const error =
      `${target} is missing and only root can build it (debootstrap needs root): run the tests once as ` +
      "root, or set BURROW_TEST_CACHE to a folder holding it";
    log(`debian: MISSING; every test that needs it will fail: ${error}`);
    return { error };
  }
  const dir = debianCacheDir();
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
    const lockDir = path.join(dir, "debian.lock");
    if (!(await lock(lockDir, target, log))) {
      log(`debian: ${target} (built by another harness)`);
      return { file: target };
    }
    const work = await fsp.mkdtemp(path.join(dir, "debian-build-"));
    try {
      const part = path.join(work, "layer.tar.gz");
      const t0 = Date.now();
      await build(path.join(work, "rootfs"), part, log);
      await fsp.chmod(part, 0o644);
      await fsp.rename(part, target);
      const mb = ((await fsp.stat(target)).size / 1e6).toFixed(1);
      log(`debian: built ${target} (${mb} MB) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } finally {
      await removeTree(work).catch((err: Error) => log(`debian: could not remove ${work}: ${err.message}`));
      await removeTree(lockDir).catch(() => undefined);
    }
    return { file: target };
  } catch (err) {
    const error = `building the Debian test image failed: ${(err as Error).message}`;
    log(`debian: FAILED; every test that needs it will fail: ${error}`);
    return { error };
  }
}

/** For `node dist/test/harness/debian.js`: builds (or finds) the cached image and prints its path. */
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const r = await ensureDebianImage((l) => process.stderr.write(`${l}\n`));
  if ("file" in r) process.stdout.write(`${r.file}\n`);
  else process.exitCode = 1;
}
