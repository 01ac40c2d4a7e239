// Images kept as one SquashFS file (BURROW_IMAGE_FORMAT=squashfs, README: The store): `images/ID/rootfs.sqfs`
// instead of a rootfs/ folder, with `rootfs.facts.json` beside it: what the run path reads of a root on
// the host (the /etc/passwd and /etc/group texts, the folders and links that resolve a working directory),
// since the file is mounted only inside the container's namespaces (engines/userns: --squashfs).
//
// A pull in this format flattens the layers in node-local scratch (BURROW_TMPDIR, TMPDIR, else /tmp), never
// in the store, and packs that tree with mksquashfs: owners all root (the caller inside the namespace, as a
// flattened folder's files, which are the user's, read there), modes, times, links and hard links as they are.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { removeTreeAtomic } from "./atomic.js";
import { execFile } from "node:child_process";
import { RootPaths } from "../image/byte-path.js";
import { listDirBytes } from "./overlay-upper.js";
import { InRoot } from "../fs/in-root.js";
import { StoreError } from "../errors.js";

/** The SquashFS file of an image kept in that format, in its image folder. */
export const SQUASHFS_FILE = "rootfs.sqfs";
/** What the run path reads of its root, beside it. */
export const FACTS_FILE = "rootfs.facts.json";

/** What the run path needs to know of a root it cannot read on the host (src/run/plan-inputs.ts). */
export interface RootfsFacts {
  /** /etc/passwd and /etc/group, links followed inside the root ("" where missing). */
  passwd: string;
  group: string;
  /** Every folder (root-relative byte strings, no leading slash). */
  dirs: string[];
  /** Every symbolic link and its target. */
  links: Record<string, string>;
}

/** The node-local folder for scratch that must not go to a shared store: BURROW_TMPDIR, TMPDIR, else the system's. */
export function nodeScratchBase(env: NodeJS.ProcessEnv): string {
  const pick = env.BURROW_TMPDIR || env.TMPDIR;
  return pick && path.isAbsolute(pick) ? pick : os.tmpdir();
}

/** Reads the facts of the tree at `root` (a flattened rootfs). */
export function collectFacts(root: string): RootfsFacts {
  const dirs: string[] = [];
  const links: Record<string, string> = {};
  const paths = new RootPaths(root);
  const walk = (rel: string): void => {
    for (const name of listDirBytes(paths.sys(rel))) {
      const r = rel === "" ? name : `${rel}/${name}`;
      const st = fs.lstatSync(paths.sys(r));
      if (st.isDirectory()) {
        dirs.push(r);
        walk(r);
      } else if (st.isSymbolicLink()) {
        links[r] = fs.readlinkSync(paths.sys(r), { encoding: "latin1" });
      }
    }
  };
  try {
    walk("");
  } finally {
    paths.invalidate();
  }
  const read = (rel: string): string =>
    InRoot.with(root, (r) => r.readFile(rel, "follow"))?.toString("utf8") ?? "";
  return { passwd: read("etc/passwd"), group: read("etc/group"), dirs, links };
}

/** Reads the facts file of a stored SquashFS image; a missing or damaged one is a store error. */
export function readFacts(file: string): RootfsFacts {
  try {
    const facts = JSON.parse(fs.readFileSync(file, "utf8")) as RootfsFacts;
    if (typeof facts.passwd !== "string" || !Array.isArray(facts.dirs) || typeof facts.links !== "object")
      throw new Error("not a facts record");
    return facts;
  } catch (err) {
    throw new StoreError(
      `the image's ${FACTS_FILE} (${file}) is missing or damaged: remove the image (burrow rmi) and pull it again`,
      { cause: err },
    );
  }
}

/** Resolves root-relative paths against a root's facts as the kernel would inside it (links followed, `..` kept at the root). */
export class FactsRoot {
  private readonly dirs: Set<string>;

  constructor(private readonly facts: RootfsFacts) {
    this.dirs = new Set(facts.dirs);
  }

  /** The real path `guest` names (root-relative, no leading slash), following links; undefined past 40 links. */
  resolve(guest: string): string | undefined {
    let todo = guest.split("/").filter((c) => c !== "" && c !== ".");
    const done: string[] = [];
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.shift()!;
      if (c === "..") {
        done.pop();
        continue;
      }
      const here = [...done, c].join("/");
      const target = this.facts.links[here];
      if (target === undefined) {
        done.push(c);
        continue;
      }
      if (++hops > 40) return undefined;
      if (target.startsWith("/")) done.length = 0;
      todo = [...target.split("/").filter((t) => t !== "" && t !== "."), ...todo];
    }
    return done.join("/");
  }

  /** Whether `guest` is a folder, links followed (`follow`) or none allowed on the way (`refuse`). */
  isDir(guest: string, links: "follow" | "refuse"): boolean {
    const clean = guest.split("/").filter((c) => c !== "" && c !== ".");
    if (links === "refuse") {
      if (clean.includes("..")) return false;
      for (let i = 1; i <= clean.length; i++) if (!this.dirs.has(clean.slice(0, i).join("/"))) return false;
      return true;
    }
    const real = this.resolve(guest);
    return real !== undefined && (real === "" || this.dirs.has(real));
  }
}

/**
 * Packs the tree at `from` into the SquashFS file `file` (made anew) with `mksquashfs`: for the store, zstd
 * at level 1 (the 120 MiB Debian tree in 0.4 s; gzip, mksquashfs's default, takes 7.9 s for a file 8 %
 * smaller); `portable` (a file to hand to other tools, whose SquashFUSE may lack zstd): gzip.
 */
export async function packSquashfs(
  mksquashfs: string,
  from: string,
  file: string,
  use: "store" | "portable" = "store",
): Promise<void> {
  // -mem: mksquashfs sizes its caches to a quarter of the machine's memory (234 MiB of RSS for the bench's
  // Python image, twice a pull's own); 64 MiB keeps it under the pull's peak, and was no slower.
  // Extended attributes are kept: the flattened tree holds the layers' user.* ones (src/image/xattrs.ts).
  const args = [from, file, "-noappend", "-all-root", "-no-progress", "-quiet", "-mem", "64M"];
  if (use === "store") args.push("-comp", "zstd", "-Xcompression-level", "1");
  await runTool(
    mksquashfs,
    args,
    (why) =>
      `mksquashfs could not pack the image (${why}): check the space in the store, or use BURROW_IMAGE_FORMAT=dir`,
  );
}

/**
 * Unpacks the SquashFS file `file` into the new folder `into` with unsquashfs (owners: the caller's; the user.*
 * xattrs, which a user may set). `hint` says what to do when the unpacking fails for want of room; a file that
 * unsquashfs finds damaged says so instead.
 */
export async function unsquash(unsquashfs: string, file: string, into: string, hint: string): Promise<void> {
  // unsquashfs run by a user other than root takes the umask off the modes it sets (an image's 0775 became
  // 0755): it runs with none, so the tree has the file's modes. The umask is the process's: set and put back
  // around the spawn alone, which happens before execFile returns.
  const umask = process.umask(0);
  let done: Promise<void>;
  try {
    done = runTool(unsquashfs, ["-d", into, "-user-xattrs", "-no-progress", "-quiet", file], (why) =>
      /corrupt|superblock|not a squashfs|Read on filesystem failed|read_fs_bytes|FATAL/i.test(why) &&
      !/No space|ENOSPC|Disk quota/i.test(why)
        ? `the SquashFS file ${file} is damaged or cut short (unsquashfs: ${why}): make it again, or pull or save the image again`
        : `unsquashfs could not unpack ${file} into ${path.dirname(into)} (${why}): ${hint}`,
    );
  } finally {
    process.umask(umask);
  }
  await done;
}

/** Runs a squashfs-tools program; its failure is a StoreError, `message` given the last line it printed. */
function runTool(bin: string, args: string[], message: (why: string) => string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    execFile(bin, args, { maxBuffer: 1 << 20 }, (err, _out, stderr) => {
      if (err === null) resolve();
      else reject(new StoreError(message(stderr.trim().split("\n").at(-1) || err.message), { cause: err }));
    });
  });
}

/** Finds a squashfs-tools or SquashFUSE program the way the engines' programs are found (src/binaries.ts). */
export async function findSquashTool(
  name: "mksquashfs" | "unsquashfs" | "squashfuse",
  env: NodeJS.ProcessEnv,
  storeRoot: string,
): Promise<string | undefined> {
  const { binarySearch, findBinary } = await import("../binaries.js");
  const { findPackageRoot } = await import("../package-info.js");
  const search = (n: string, envVar: string) =>
    findBinary(binarySearch({ name: n, envVar, env, storeRoot, packageRoot: findPackageRoot() }));
  if (name === "squashfuse")
    // squashfuse_ll (the low-level interface) serves lookups faster; the plain one does the same job.
    return search("squashfuse_ll", "BURROW_SQUASHFUSE") ?? search("squashfuse", "BURROW_SQUASHFUSE");
  return search(name, name === "mksquashfs" ? "BURROW_MKSQUASHFS" : "BURROW_UNSQUASHFS");
}

/**
 * The tree of the SquashFS file `file` as a tar stream (for `import`): unpacked with unsquashfs into node-local
 * scratch, read back by GNU tar with owners 0 (as the file records them). `close` removes the scratch.
 */
export async function squashfsAsTar(
  file: string,
  env: NodeJS.ProcessEnv,
  storeRoot: string,
): Promise<{ stream: NodeJS.ReadableStream; close(): void }> {
  const { makeScratch, removeScratch } = await import("../run/scratch.js");
  const { spawn } = await import("node:child_process");
  const unsquashfs = await findSquashTool("unsquashfs", env, storeRoot);
  if (unsquashfs === undefined)
    throw new StoreError(
      `${file} is a SquashFS file, and unsquashfs is not found to read it: install squashfs-tools, or set BURROW_UNSQUASHFS`,
    );
  const scratch = makeScratch(nodeScratchBase(env));
  const tree = path.join(scratch, "rootfs");
  try {
    await unsquash(unsquashfs, file, tree, "is it whole? Set BURROW_TMPDIR to a folder with space");
  } catch (err) {
    removeScratch(scratch);
    throw err;
  }
  const tar = spawn("tar", ["-C", tree, "-c", "--numeric-owner", "--owner=0", "--group=0", "."], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  return {
    stream: tar.stdout,
    close: () => {
      tar.kill();
      removeScratch(scratch);
    },
  };
}

/**
 * What is short in the SquashFS file `file`: undefined when it holds the bytes its superblock says it uses
 * (`bytes_used`, at offset 40), else a phrase saying how many it lacks (a copy or a download cut short).
 */
export function squashfsShortfall(file: string): string | undefined {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const sb = Buffer.alloc(48);
    if (fs.readSync(fd, sb, 0, 48, 0) < 48) return "it is shorter than a SquashFS superblock";
    const used = sb.readBigUInt64LE(40);
    const size = BigInt(fs.fstatSync(fd).size);
    return size < used ? `its superblock says it uses ${used} bytes, but it has ${size}` : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether `file` is a regular file that starts with SquashFS's magic ("hsqs"); read without blocking on a FIFO. */
export function isSquashfsFile(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const magic = Buffer.alloc(4);
    return (
      fs.fstatSync(fd).isFile() &&
      fs.readSync(fd, magic, 0, 4, 0) === 4 &&
      magic.toString("latin1") === "hsqs"
    );
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Packs the tree flattened at `flatRoot` (node-local scratch) into the staged image folder as its SquashFS
 * file, with its facts, in place of its empty rootfs/; the record says the format.
 */
export async function packStagedImage(
  staged: { dir: string; rootfs: string },
  flatRoot: string,
  mksquashfs: string,
  record: { format?: "squashfs" | undefined },
): Promise<void> {
  const facts = collectFacts(flatRoot);
  await packSquashfs(mksquashfs, flatRoot, path.join(staged.dir, SQUASHFS_FILE));
  fs.writeFileSync(path.join(staged.dir, FACTS_FILE), JSON.stringify(facts), { mode: 0o644 });
  // A tree made in the staged folder itself (a build's) goes once packed; else the staged rootfs is empty.
  if (flatRoot === staged.rootfs) removeTreeAtomic(staged.rootfs);
  else fs.rmdirSync(staged.rootfs);
  record.format = "squashfs";
}

/** What a command that makes images needs for the squashfs format (BURROW_IMAGE_FORMAT=squashfs). */
export interface SquashfsOutput {
  mksquashfs: string;
  /** Node-local scratch where the tree is flattened (never the store). */
  scratchBase: string;
}

/** The squashfs format's tools, or one line saying what to install; undefined for the dir format. */
export async function squashfsOutput(
  format: "dir" | "squashfs",
  env: NodeJS.ProcessEnv,
  storeRoot: string,
): Promise<SquashfsOutput | undefined> {
  if (format !== "squashfs") return undefined;
  const mksquashfs = await findSquashTool("mksquashfs", env, storeRoot);
  if (mksquashfs === undefined) {
    const { InvalidArgumentError } = await import("../errors.js");
    throw new InvalidArgumentError(
      "the image format is squashfs (BURROW_IMAGE_FORMAT or imageFormat), but mksquashfs is not found: install squashfs-tools, set BURROW_MKSQUASHFS, or use the dir format",
    );
  }
  return { mksquashfs, scratchBase: nodeScratchBase(env) };
}
