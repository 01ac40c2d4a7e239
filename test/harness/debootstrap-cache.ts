// A Debian rootfs built with debootstrap and packed as one gzip layer, cached by file name (built once, as root).
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { findProgram } from "./prerequisites.js";
import { runProgram } from "./proc.js";
import { removeTree } from "./remove-tree.js";

/** One cached debootstrap image: what to build and where its tarball lives. */
export interface DebootstrapImage {
  /** Starts every log line ("debian", "mpi image"). */
  label: string;
  /** The cached tarball; its folder holds the build lock and the build's work folder too. */
  target: string;
  /** The lock folder's and the work folder's names in the cache folder ("debian" → debian.lock, debian-build-XXXXXX). */
  lockName: string;
  suite: string;
  variant: string;
  mirror: string;
  /** Extra packages (debootstrap --include); none when empty or absent. */
  include?: readonly string[];
  /** How long debootstrap may take. */
  timeoutMs: number;
  /** Files (relative to the rootfs) the build must contain, checked before it is cached. */
  requires?: readonly string[];
}

/** Thrown when the tarball is missing and cannot be built here (not root). */
export class CacheMissingError extends Error {}

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
async function lock(lockDir: string, image: DebootstrapImage, log: (line: string) => void): Promise<boolean> {
  let said = false;
  for (;;) {
    if (await exists(image.target)) return false;
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
      log(`${image.label}: removing a stale build lock (pid ${pid}) in ${lockDir}`);
      await removeTree(lockDir);
      continue;
    }
    if (!said) log(`${image.label}: another process (pid ${pid}) is building it; waiting`);
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
  log("debootstrap: installing it with apt-get");
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
async function build(
  image: DebootstrapImage,
  rootfs: string,
  out: string,
  log: (line: string) => void,
): Promise<void> {
  const debootstrap = await debootstrapProgram(log);
  const t0 = Date.now();
  const args = [
    `--variant=${image.variant}`,
    ...(image.include?.length ? [`--include=${image.include.join(",")}`] : []),
    image.suite,
    rootfs,
    image.mirror,
  ];
  log(`${image.label}: debootstrap ${args.join(" ")} (a few minutes)`);
  // debootstrap reads no stdin; a long timeout still bounds a hung mirror.
  await runProgram(debootstrap, args, {
    timeoutMs: image.timeoutMs,
    env: { ...process.env, LANG: "C.UTF-8", DEBIAN_FRONTEND: "noninteractive" },
  }).catch((err: Error) => {
    const logFile = path.join(rootfs, "debootstrap", "debootstrap.log");
    const tail = fs.existsSync(logFile)
      ? fs.readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n")
      : "";
    throw new Error(`debootstrap failed: ${err.message}${tail ? `\nlast lines of its log:\n${tail}` : ""}`);
  });
  log(`${image.label}: debootstrap done in ${((Date.now() - t0) / 1000).toFixed(0)} s; packing the layer`);
  // What image builders drop too: downloaded packages and lists (the tests work offline).
  for (const d of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
    for (const n of await fsp.readdir(path.join(rootfs, d)).catch(() => [] as string[])) {
      if (n.endsWith(".deb") || (d.endsWith("lists") && n !== "partial" && n !== "lock")) {
        await fsp.rm(path.join(rootfs, d, n), { force: true });
      }
    }
  }
  for (const f of image.requires ?? []) {
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
 * The image's layer tarball: found in the cache, else built under the cache's build lock (as root only:
 * debootstrap needs root) and renamed into place. Throws CacheMissingError when missing and not root,
 * and the build's error when it fails.
 */
export async function cachedDebootstrap(
  image: DebootstrapImage,
  log: (line: string) => void,
): Promise<string> {
  const { target, label } = image;
  if (await exists(target)) {
    log(`${label}: ${target} (cached)`);
    return target;
  }
  if (process.getuid?.() !== 0) {
    throw new CacheMissingError(
      `${target} is missing and only root can build it (debootstrap needs root): run the tests once as ` +
        "root, or set BURROW_TEST_CACHE to a folder holding it",
    );
  }
  const dir = path.dirname(target);
  await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  const lockDir = path.join(dir, `${image.lockName}.lock`);
  if (!(await lock(lockDir, image, log))) {
    log(`${label}: ${target} (built by another process)`);
    return target;
  }
  try {
    const work = await fsp.mkdtemp(path.join(dir, `${image.lockName}-build-`));
    try {
      const part = path.join(work, "layer.tar.gz");
      const t0 = Date.now();
      await build(image, path.join(work, "rootfs"), part, log);
      await fsp.chmod(part, 0o644);
      await fsp.rename(part, target);
      const mb = ((await fsp.stat(target)).size / 1e6).toFixed(1);
      log(`${label}: built ${target} (${mb} MB) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } finally {
      await removeTree(work).catch((err: Error) => log(`${label}: could not remove ${work}: ${err.message}`));
    }
  } finally {
    await removeTree(lockDir).catch(() => undefined);
  }
  return target;
}
