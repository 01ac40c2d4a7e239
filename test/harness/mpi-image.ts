// The Open MPI test image: Debian bookworm minbase with openmpi-bin, libopenmpi-dev and gcc, built once as root and cached.
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { debianCacheDir } from "./debian.js";
import { findProgram } from "./prerequisites.js";
import { runProgram } from "./proc.js";
import { removeTree } from "./remove-tree.js";

/** What is built, and the cache key: a change here must change `version` so that old caches are rebuilt. */
export const MPI_IMAGE = {
  suite: "bookworm",
  variant: "minbase",
  /** The host's own Debian mirror (/etc/apt/sources.list.d/debian.sources), so the build needs no other. */
  mirror: "http://deb.debian.org/debian",
  /** Debian 12 ships Open MPI 4.1.4 (with the external PMIx 4.2), the same as the host's openmpi-bin. */
  /**
   * automake too: libltdl-dev (pulled in by libopenmpi-dev through libhwloc-dev) depends on the
   * virtual package automake-1.16, which debootstrap cannot resolve by itself.
   */
  include: ["openmpi-bin", "libopenmpi-dev", "gcc", "libc6-dev", "automake"],
  /** Bump when the build recipe changes. */
  version: "1",
} as const;

/** The cached layer's path, next to the Debian minbase one (BURROW_TEST_CACHE, else /var/cache/burrow-test). */
export function mpiTarballPath(): string {
  return path.join(
    debianCacheDir(),
    `debian-${MPI_IMAGE.suite}-openmpi-${process.arch}-v${MPI_IMAGE.version}.tar.gz`,
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
 * Takes the build lock (a directory holding the owner's pid), waiting while a live process holds it
 * and taking over one left by a dead one. Resolves false when the tarball appeared meanwhile.
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
    if ((Number.isInteger(pid) && !alive(pid)) || (!Number.isInteger(pid) && age > 10_000)) {
      log(`mpi image: removing a stale build lock (pid ${pid}) in ${lockDir}`);
      await removeTree(lockDir);
      continue;
    }
    if (!said) log(`mpi image: another process (pid ${pid}) is building it; waiting`);
    said = true;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Runs debootstrap into `rootfs` and packs it as one layer `out` (device nodes and apt caches left out). */
async function build(rootfs: string, out: string, log: (line: string) => void): Promise<void> {
  const debootstrap = await findProgram("debootstrap");
  if (!debootstrap) throw new Error("debootstrap is missing: apt-get install debootstrap");
  const t0 = Date.now();
  const args = [
    `--variant=${MPI_IMAGE.variant}`,
    `--include=${MPI_IMAGE.include.join(",")}`,
    MPI_IMAGE.suite,
    rootfs,
    MPI_IMAGE.mirror,
  ];
  log(`mpi image: debootstrap ${args.join(" ")} (a few minutes)`);
  await runProgram(debootstrap, args, {
    timeoutMs: 25 * 60_000,
    env: { ...process.env, LANG: "C.UTF-8", DEBIAN_FRONTEND: "noninteractive" },
  }).catch((err: Error) => {
    const logFile = path.join(rootfs, "debootstrap", "debootstrap.log");
    const tail = fs.existsSync(logFile)
      ? fs.readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n")
      : "";
    throw new Error(`debootstrap failed: ${err.message}${tail ? `\nlast lines of its log:\n${tail}` : ""}`);
  });
  log(`mpi image: debootstrap done in ${((Date.now() - t0) / 1000).toFixed(0)} s; packing the layer`);
  for (const d of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
    for (const n of await fsp.readdir(path.join(rootfs, d)).catch(() => [] as string[])) {
      if (n.endsWith(".deb") || (d.endsWith("lists") && n !== "partial" && n !== "lock")) {
        await fsp.rm(path.join(rootfs, d, n), { force: true });
      }
    }
  }
  // What every MPI program needs from the image; a build that lacks it is no use (checked before caching).
  for (const f of ["usr/bin/mpicc", "usr/bin/mpirun", "usr/bin/gcc"]) {
    if (!(await exists(path.join(rootfs, f)))) throw new Error(`the built image lacks /${f}`);
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
 * The Open MPI image's layer tarball, built when the cache lacks it (as root only: debootstrap needs
 * root). Throws the reason when it cannot be had, so that the tests using it fail with it.
 */
export async function ensureMpiImage(log: (line: string) => void): Promise<string> {
  const target = mpiTarballPath();
  if (await exists(target)) {
    log(`mpi image: ${target} (cached)`);
    return target;
  }
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${target} is missing and only root can build it (debootstrap needs root): run the tests once as ` +
        "root, or set BURROW_TEST_CACHE to a folder holding it",
    );
  }
  const dir = debianCacheDir();
  await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  const lockDir = path.join(dir, "openmpi.lock");
  if (!(await lock(lockDir, target, log))) {
    log(`mpi image: ${target} (built by another process)`);
    return target;
  }
  try {
    const work = await fsp.mkdtemp(path.join(dir, "openmpi-build-"));
    try {
      const part = path.join(work, "layer.tar.gz");
      const t0 = Date.now();
      await build(path.join(work, "rootfs"), part, log);
      await fsp.chmod(part, 0o644);
      await fsp.rename(part, target);
      const mb = ((await fsp.stat(target)).size / 1e6).toFixed(1);
      log(`mpi image: built ${target} (${mb} MB) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } finally {
      await removeTree(work).catch((err: Error) =>
        log(`mpi image: could not remove ${work}: ${err.message}`),
      );
    }
  } finally {
    await removeTree(lockDir).catch(() => undefined);
  }
  return target;
}

/** For `node dist/test/harness/mpi-image.js`: builds (or finds) the cached image and prints its path. */
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  try {
    process.stdout.write(`${await ensureMpiImage((l) => process.stderr.write(`${l}\n`))}\n`);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
