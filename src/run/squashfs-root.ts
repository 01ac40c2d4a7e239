// Roots of images kept as one SquashFS file (src/store/squashfs.ts), for step 2 of a run
// (src/run/run-request.ts): mounted inside the container's namespaces by the engine where it can (userns,
// with a pid namespace, SquashFUSE found and /dev/fuse open to the user), else unpacked once into a
// node-local folder (BURROW_TMPDIR, TMPDIR, else /tmp) that later runs on this node use as a flattened image.
import fs from "node:fs";
import path from "node:path";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import type { Engine } from "../engine-interface.js";
import type { ImageRecord, Store } from "../store/store.js";
import type { SquashfsLower } from "./plan-spec.js";
import { StoreError } from "../errors.js";
import { randomHex } from "../store/random.js";
import { removeTreeAtomic } from "../store/atomic.js";
import { makeOnce, ownPrivateDir } from "../fs/private-dir.js";
import { storeOf } from "../store/site-stores.js";
import { hostUid } from "./env.js";
import { fuseOpenToUser } from "./overlay.js";
import {
  FACTS_FILE,
  SQUASHFS_FILE,
  collectFacts,
  findSquashTool,
  nodeScratchBase,
  readFacts,
  squashfsShortfall,
  unsquash,
} from "../store/squashfs.js";
import type { RootfsFacts } from "../store/squashfs.js";

/** A SquashFS file to run: a stored image's, or one named on the command line (`burrow run ./tool.sqfs`). */
export interface SquashfsSource {
  file: string;
  /** Its name in the node-local cache folder (the image id; for a file, a hash of where it is and its stamp). */
  key: string;
  /** What its root holds (undefined where that cannot be read on the host: it is unpacked instead). */
  facts(): Promise<RootfsFacts | undefined>;
}

/** A stored image kept in SquashFS format: its file, and the facts recorded when it was packed. */
export function imageSquashfs(store: Store, image: ImageRecord): SquashfsSource {
  const dir = store.imageDir(image.id);
  return {
    file: path.join(dir, SQUASHFS_FILE),
    key: image.id,
    facts: () => Promise.resolve(readFacts(path.join(dir, FACTS_FILE))),
  };
}

/**
 * A SquashFS file from anywhere: its facts are read once through a mount on the host (SquashFUSE with
 * fusermount3) and kept in the node-local cache folder; where that mount cannot be made, the file is unpacked.
 */
export function fileSquashfs(file: string, env: NodeJS.ProcessEnv, storeRoot: string): SquashfsSource {
  const st = fs.statSync(file);
  const key = `file-${createHash("sha256")
    .update(`${file}\0${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeMs}`)
    .digest("hex")
    .slice(0, 32)}`;
  return {
    file,
    key,
    facts: async () => {
      const base = cacheBase(env);
      const cached = path.join(base, `${key}.facts.json`);
      if (fs.existsSync(cached)) return readFacts(cached);
      const squashfuse = fuseOpenToUser() ? await findSquashTool("squashfuse", env, storeRoot) : undefined;
      const facts = squashfuse !== undefined ? await factsThroughMount(file, squashfuse, base) : undefined;
      if (facts !== undefined) fs.writeFileSync(cached, JSON.stringify(facts), { mode: 0o600 });
      return facts;
    },
  };
}

/** Mounts `file` on the host for a moment and reads its facts; undefined where the mount cannot be made. */
async function factsThroughMount(
  file: string,
  squashfuse: string,
  base: string,
): Promise<RootfsFacts | undefined> {
  const mnt = fs.mkdtempSync(path.join(base, ".mnt-"));
  const run = (bin: string, args: string[]) =>
    new Promise<boolean>((resolve) =>
      execFile(bin, args, { timeout: 30_000 }, (err) => resolve(err === null)),
    );
  try {
    if (!(await run(squashfuse, [file, mnt]))) return undefined;
    try {
      return collectFacts(mnt);
    } finally {
      if (!(await run("fusermount3", ["-u", mnt]))) await run("fusermount", ["-u", mnt]);
    }
  } catch {
    return undefined;
  } finally {
    try {
      fs.rmdirSync(mnt);
    } catch {
      // Still mounted (the unmount failed): the next sweep of the cache folder leaves it; nothing is in it.
    }
  }
}

/**
 * The SquashFS lower the engine mounts itself, or undefined where it cannot here (the caller unpacks the
 * image instead): an engine that mounts SquashFS files, a pid namespace (the server dies with it), a
 * SquashFUSE binary, /dev/fuse open to this user, and the root's facts.
 */
export async function squashfsLower(
  source: SquashfsSource,
  engine: Engine,
  env: NodeJS.ProcessEnv,
  storeRoot: string,
  nosysdirs: boolean,
  asJobUser: boolean,
): Promise<SquashfsLower | undefined> {
  // A PMIx job's rank runs as the job's user (src/run/plan-spec.ts pmixUser): its namespace maps that id
  // alone, where the file's owner (root) reads as nobody and nothing of it could be changed.
  if (engine.supportsSquashfs !== true || nosysdirs || asJobUser || !fuseOpenToUser()) return undefined;
  const squashfuse = await findSquashTool("squashfuse", env, storeRoot);
  if (squashfuse === undefined) return undefined;
  const facts = await source.facts();
  if (facts === undefined) return undefined;
  return { file: source.file, squashfuse, facts, share: shareBase(env) };
}

/**
 * Where the runs of this node meet to share one SquashFUSE mount per image (`BASE/burrow-sqfs-UID/mounts`, the
 * helper's `--squashfs-share`, see engines/userns/share.c); made private where missing, checked again by the
 * helper. Looked at before it is made: a run that only reads it can be replayed (src/run/replay-record.ts
 * records no run that writes outside its scratch), and its stamp sends a replay back here once it is gone.
 */
function shareBase(env: NodeJS.ProcessEnv): string {
  const dir = sharePath(env);
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (st !== undefined && st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o077) === 0)
    return dir;
  cacheBase(env);
  return ownPrivateDir(dir, (m) => new StoreError(m));
}

function sharePath(env: NodeJS.ProcessEnv): string {
  return path.join(cachePath(env), "mounts");
}

/** Where this user's node-local cache folder of unpacked SquashFS files is (`BASE/burrow-sqfs-UID`). */
export function cachePath(env: NodeJS.ProcessEnv): string {
  // Named after the user's own id, inside a build's namespace too (where the build is root).
  return path.join(nodeScratchBase(env), `burrow-sqfs-${hostUid(env) ?? "x"}`);
}

/** That folder, made private where missing, refused where it is not private. */
function cacheBase(env: NodeJS.ProcessEnv): string {
  return ownPrivateDir(cachePath(env), (m) => new StoreError(m));
}

/** A folder holding the image's root: its rootfs/ in the store, or its SquashFS file unpacked on this node. */
export async function imageRootDir(
  store: Store,
  image: ImageRecord,
  env: NodeJS.ProcessEnv,
  warn: (message: string) => void,
): Promise<string> {
  const home = storeOf(image, store);
  if (image.format === "squashfs")
    return unpackedRoot(imageSquashfs(home, image), env, store.paths.root, warn);
  const rootfs = home.rootfs(image.id);
  // A site store's folder of another user's files: the kernel's overlay cannot copy them up in a user
  // namespace where their owner is not mapped, so this node gets a copy of the user's own, once.
  const uid = process.getuid?.();
  if (home === store || uid === undefined || fs.statSync(rootfs).uid === uid) return rootfs;
  return copiedRoot(rootfs, image.id, env, warn);
}

/** A site image's folder copied once on this node (`BASE/burrow-sqfs-UID/copy-ID`, with a notice). */
async function copiedRoot(
  rootfs: string,
  id: string,
  env: NodeJS.ProcessEnv,
  warn: (message: string) => void,
): Promise<string> {
  const base = cacheBase(env);
  const dir = path.join(base, `copy-${id}`);
  if (fs.existsSync(dir)) return dir;
  warn(
    `the image ${id.slice(0, 12)} of a site store is a folder of another user's files, which a run cannot change in place: copying it once into ${dir} (a site store in the squashfs format needs no copy)`,
  );
  const tmp = path.join(base, `.copy-${id.slice(0, 12)}-${randomHex(4)}`);
  const { copyTreeAsync } = await import("../fs/copy-tree.js");
  return makeOnce(
    dir,
    tmp,
    async (into) => {
      try {
        await copyTreeAsync(rootfs, into, { label: "the site image" });
      } catch (err) {
        throw new StoreError(
          `cannot copy the image ${id.slice(0, 12)} of a site store (${(err as Error).message.replace(/^cannot copy the site image: /, "").replace(/: make it readable.*$/, "")}): its owner must make its files readable to others (chmod -R a+rX on its folder), or keep it in the squashfs format`,
          { cause: err },
        );
      }
    },
    removeTreeAtomic,
  );
}

/** The SquashFS file unpacked once on this node (`BASE/burrow-sqfs-UID/KEY`, made the first time, then a notice). */
export async function unpackedRoot(
  source: SquashfsSource,
  env: NodeJS.ProcessEnv,
  storeRoot: string,
  warn: (message: string) => void,
): Promise<string> {
  const base = cacheBase(env);
  const dir = path.join(base, source.key);
  if (fs.existsSync(dir)) return dir;
  const short = squashfsShortfall(source.file);
  if (short !== undefined)
    throw new StoreError(
      `the SquashFS file ${source.file} is cut short (${short}): pull or save the image again (burrow verify checks the store)`,
    );
  const unsquashfs = await findSquashTool("unsquashfs", env, storeRoot);
  if (unsquashfs === undefined) {
    throw new StoreError(
      "this image is a SquashFS file, which cannot be mounted here, and unsquashfs is not found to unpack it: install squashfs-tools (and squashfuse, with /dev/fuse open to you, to mount it instead)",
    );
  }
  const tmp = path.join(base, `.${source.key.slice(0, 16)}-${randomHex(4)}`);
  // Another run on this node may unpack it at the same time: the first to finish is used.
  const root = await makeOnce(
    dir,
    tmp,
    (into) => unsquash(unsquashfs, source.file, into, "set BURROW_TMPDIR to a folder with space"),
    removeTreeAtomic,
  );
  // Said once it is done: a file that will not unpack gets its error alone, in one line.
  warn(
    `the SquashFS file ${source.file} cannot be mounted here (this engine, --nosysdirs, a PMIx job's rank, no squashfuse or no /dev/fuse, or the file would not mount): it is unpacked once on this node, into ${dir}`,
  );
  return root;
}

/**
 * Removes this node's unpacked or copied root of image `id` (after `rmi` deleted the image: no run holds
 * it). Other nodes' copies go when their user removes their `BURROW_TMPDIR`, as any node-local scratch.
 */
export function forgetNodeCopies(id: string, env: NodeJS.ProcessEnv): void {
  const base = cachePath(env);
  const st = fs.lstatSync(base, { throwIfNoEntry: false });
  if (st === undefined || !st.isDirectory() || st.uid !== process.getuid?.()) return;
  for (const name of [id, `copy-${id}`]) {
    if (fs.existsSync(path.join(base, name))) removeTreeAtomic(path.join(base, name));
  }
}
