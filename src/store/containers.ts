// Named containers: a persistent writable layer over a shared image, under containers/<id>/.
import fs from "node:fs";
import path from "node:path";
import { randomHex } from "./random.js";
import { ownerTag } from "./owner.js";
import { writeFileAtomic, removeTreeAtomic } from "./atomic.js";
import { acquireLock, lockIsStale, withLock } from "./lock.js";
import type { Lock } from "./lock.js";
import { applyUpper, readOpaqueDirsSync } from "./overlay-upper.js";
import { ConflictError, InvalidArgumentError, StoreError } from "../errors.js";
import { checkContainerName } from "./container-name.js";
import { copyTree } from "../fs/copy-tree.js";

// Re-exported for the callers that copy a container's tree (src/fs/copy-tree.ts is the copy itself).
export { checkContainerName };

/** `containers/<id>/container.json`. */
export interface ContainerRecord {
  id: string;
  /** The first of `names` (kept in the file for readers that know one name only). */
  name?: string | undefined;
  /** Every name of the container (udocker allows several); read() always fills it. */
  names?: string[] | undefined;
  /** The image id (config digest hex) it was made from, and the name used. */
  image: string;
  imageName?: string | undefined;
  created: string;
  /** `overlay`: upper/ and work/ over the image rootfs; `copy`: its own rootfs/. */
  layer: "overlay" | "copy";
  /** The engine saved with `setup --engine` (issue 4/5). */
  engine?: string | undefined;
  /** The udocker execmode `setup --execmode` saved `engine` from (R3 runs runc: `setup` shows R3). */
  execmode?: string | undefined;
}

/** Files every run writes again (from the host), which are no change of the container's own. */
const REGENERATED = new Set(["etc/resolv.conf", "etc/hosts", "etc/apt/apt.conf.d/00burrow-sandbox"]);

/** Whether an overlay upper layer holds anything but regenerated files and empty folders. */
function hasOwnChanges(upper: string): boolean {
  const walk = (dir: string, rel: string): boolean => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (walk(path.join(dir, e.name), r)) return true;
      } else if (!REGENERATED.has(r)) {
        return true;
      }
    }
    return false;
  };
  return walk(upper, "");
}

/** The bytes a tree's files hold (apparent sizes, links not followed). */
export function treeBytes(root: string): number {
  let bytes = 0;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else {
        try {
          bytes += fs.lstatSync(p).size;
        } catch {
          // Removed meanwhile.
        }
      }
    }
  }
  return bytes;
}

/** The names of a record (older records hold `name` only). */
function namesOf(rec: ContainerRecord): string[] {
  if (Array.isArray(rec.names)) return rec.names;
  return rec.name !== undefined ? [rec.name] : [];
}

/** The record as stored: `name` is the first of `names`. */
function withNames(rec: ContainerRecord, names: string[]): ContainerRecord {
  return { ...rec, name: names[0], names };
}

/** How a label for messages reads: the first name, else the short id. */
export function containerLabel(rec: ContainerRecord): string {
  return rec.name ?? rec.id.slice(0, 12);
}

/** The containers of the store whose paths are `paths` (`<root>/containers`, locks in `<root>/locks`). */
export function containersOf(paths: { root: string; locks: string }): Containers {
  return new Containers(path.join(paths.root, "containers"), paths.locks);
}

/** The containers of one store. */
export class Containers {
  /** Where the store's locks live (`<root>/locks` beside `<root>/containers`). */
  readonly locks: string;

  constructor(
    readonly dir: string,
    locksDir?: string,
  ) {
    this.locks = locksDir ?? path.join(path.dirname(dir), "locks");
  }

  /** Folder of one container. */
  path(id: string): string {
    return path.join(this.dir, id);
  }

  /** The folder holding a container's own files: upper/ (its changes) or rootfs/ (its copy). */
  layerPath(rec: ContainerRecord): string {
    return path.join(this.path(rec.id), rec.layer === "overlay" ? "upper" : "rootfs");
  }

  /** Every complete container, oldest first. */
  list(): ContainerRecord[] {
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((n) => /^[a-f0-9]{64}$/.test(n))
      .map((n) => this.read(n))
      .filter((c): c is ContainerRecord => c !== undefined)
      .sort((a, b) => a.created.localeCompare(b.created));
  }

  /** One container's record (with `names` filled), or undefined. */
  read(id: string): ContainerRecord | undefined {
    try {
      const rec = JSON.parse(
        fs.readFileSync(path.join(this.path(id), "container.json"), "utf8"),
      ) as ContainerRecord;
      return withNames(rec, namesOf(rec));
    } catch {
      return undefined;
    }
  }

  /** Finds a container by name, full id or a unique id prefix (at least 4 characters). */
  find(key: string): ContainerRecord | undefined {
    const all = this.list();
    const byName = all.find((c) => namesOf(c).includes(key));
    if (byName) return byName;
    if (/^[a-f0-9]{4,64}$/.test(key)) {
      const m = all.filter((c) => c.id.startsWith(key));
      if (m.length === 1) return m[0];
    }
    return undefined;
  }

  /** Like find, but a missing container is an error saying how to list or make one. */
  resolve(key: string): ContainerRecord {
    const rec = this.find(key);
    if (rec) return rec;
    throw new InvalidArgumentError(
      `no container "${key}": 'burrow ps' lists them, 'burrow create --name ${key} IMAGE' makes one`,
    );
  }

  /** Writes a record atomically. */
  private write(rec: ContainerRecord): void {
    writeFileAtomic(path.join(this.path(rec.id), "container.json"), JSON.stringify(rec, null, 2) + "\n");
  }

  /** Changes a record under its lock (re-read there: another process may have changed it). */
  private async update(
    id: string,
    change: (rec: ContainerRecord) => ContainerRecord,
  ): Promise<ContainerRecord> {
    return withLock(this.locks, `container-${id}`, () => {
      const current = this.read(id);
      if (!current) throw new InvalidArgumentError(`container ${id.slice(0, 12)} was removed meanwhile`);
      const next = change(current);
      this.write(next);
      return Promise.resolve(next);
    });
  }

  /** Refuses a name some container already has. */
  private checkFree(name: string): void {
    const holder = this.list().find((c) => namesOf(c).includes(name));
    if (holder) {
      throw new ConflictError(
        `the name "${name}" is in use by container ${holder.id.slice(0, 12)}: run 'burrow run ${name} ...' to use it, or pick another name`,
      );
    }
  }

  /**
   * Publishes a container folder built in `tmp` (record included) under the names lock, so that two
   * processes never give one name to two containers.
   */
  private async publish(tmp: string, rec: ContainerRecord): Promise<ContainerRecord> {
    try {
      return await withLock(this.locks, "container-names", () => {
        for (const n of namesOf(rec)) this.checkFree(n);
        fs.renameSync(tmp, this.path(rec.id));
        return Promise.resolve(rec);
      });
    } catch (err) {
      removeTreeAtomic(tmp);
      throw err;
    }
  }

  /**
   * Creates a container over `image`; the layer folders are made ready for `layer`, and `populate`
   * (a copy of the image for a `copy` layer) fills the folder before it becomes visible. The name is
   * claimed under the store's names lock; `engine` is the engine setting it starts with (import --clone).
   */
  async make(
    image: string,
    imageName: string | undefined,
    name: string | undefined,
    layer: ContainerRecord["layer"],
    populate?: (dir: string) => void,
    engine?: string,
    execmode?: string,
  ): Promise<ContainerRecord> {
    return this.build({ image, imageName, layer, engine, execmode }, name, (tmp) => {
      if (layer === "overlay") {
        fs.mkdirSync(path.join(tmp, "upper"));
        fs.mkdirSync(path.join(tmp, "work"));
      }
      populate?.(tmp);
    });
  }

  /** A new container with a copy of `key`'s own layer (and its engine and execmode), under `name` if given. */
  async clone(key: string, name: string | undefined): Promise<ContainerRecord> {
    const src = this.resolve(key);
    const { image, imageName, layer, engine, execmode } = src;
    return this.build({ image, imageName, layer, engine, execmode }, name, (tmp) => {
      copyTree(this.layerPath(src), path.join(tmp, layer === "overlay" ? "upper" : "rootfs"), {
        container: containerLabel(src),
      });
      if (layer === "overlay") fs.mkdirSync(path.join(tmp, "work"));
    });
  }

  /**
   * Builds a container in a temporary sibling (`fill` makes its layer there) and publishes it under
   * the store's names lock: no half-made container is ever listed, and no name is given twice.
   */
  private async build(
    base: Pick<ContainerRecord, "image" | "imageName" | "layer" | "engine" | "execmode">,
    name: string | undefined,
    fill: (dir: string) => void,
  ): Promise<ContainerRecord> {
    if (name !== undefined) {
      checkContainerName(name);
      this.checkFree(name);
    }
    const id = randomHex(32);
    const tmp = path.join(this.dir, `.tmp-${id}`);
    fs.mkdirSync(tmp, { recursive: true });
    try {
      fill(tmp);
    } catch (err) {
      removeTreeAtomic(tmp);
      throw err;
    }
    const rec = withNames(
      {
        id,
        image: base.image,
        imageName: base.imageName,
        created: new Date().toISOString(),
        layer: base.layer,
        ...(base.engine !== undefined ? { engine: base.engine } : {}),
        ...(base.engine !== undefined && base.execmode !== undefined ? { execmode: base.execmode } : {}),
      },
      name === undefined ? [] : [name],
    );
    writeFileAtomic(path.join(tmp, "container.json"), JSON.stringify(rec, null, 2) + "\n");
    return this.publish(tmp, rec);
  }

  /** Gives container `key` one more name. */
  async addName(key: string, name: string): Promise<ContainerRecord> {
    checkContainerName(name);
    return withLock(this.locks, "container-names", async () => {
      const rec = this.resolve(key);
      this.checkFree(name);
      return this.update(rec.id, (r) => withNames(r, [...namesOf(r), name]));
    });
  }

  /** Takes a name away from its container (the container stays). */
  async removeName(name: string): Promise<ContainerRecord> {
    return withLock(this.locks, "container-names", async () => {
      const rec = this.list().find((c) => namesOf(c).includes(name));
      if (!rec)
        throw new InvalidArgumentError(`no container is named "${name}": 'burrow ps' lists the names`);
      return this.update(rec.id, (r) =>
        withNames(
          r,
          namesOf(r).filter((n) => n !== name),
        ),
      );
    });
  }

  /** Renames a container: `key` (a name, or an id for a container's first name) becomes `next`. */
  async rename(key: string, next: string): Promise<ContainerRecord> {
    checkContainerName(next);
    return withLock(this.locks, "container-names", async () => {
      const rec = this.resolve(key);
      this.checkFree(next);
      return this.update(rec.id, (r) => {
        const names = namesOf(r);
        const at = names.indexOf(key);
        if (at >= 0) names[at] = next;
        else if (names.length > 0) names[0] = next;
        else names.push(next);
        return withNames(r, names);
      });
    });
  }

  /** The marker file of a protected container. */
  private protectFile(id: string): string {
    return path.join(this.path(id), "protected");
  }

  /** Whether `rm` must refuse the container. */
  isProtected(id: string): boolean {
    return fs.existsSync(this.protectFile(id));
  }

  /** Protects (or with false, unprotects) a container; both directions are one atomic file operation. */
  setProtected(id: string, on: boolean): void {
    if (on) writeFileAtomic(this.protectFile(id), "");
    else fs.rmSync(this.protectFile(id), { force: true });
  }

  /** The name of the lock a run holds on a container's overlay layer while it has it mounted. */
  private layerLockName(id: string): string {
    return `container-${id}-layer`;
  }

  /**
   * Takes the container's layer for one run: undefined when another live run has it mounted (an
   * overlay upper directory cannot be mounted twice at once; that run then works on a snapshot).
   */
  async holdLayer(id: string): Promise<Lock | undefined> {
    const dir = path.join(this.locks, `${this.layerLockName(id)}.lock`);
    try {
      return await acquireLock(this.locks, this.layerLockName(id), { timeoutMs: 1 });
    } catch (err) {
      if (fs.existsSync(dir)) return undefined;
      throw err;
    }
  }

  /** Whether a live run has the container's layer right now. */
  inUse(id: string): boolean {
    const dir = path.join(this.locks, `${this.layerLockName(id)}.lock`);
    return fs.existsSync(dir) && !lockIsStale(dir, 30_000);
  }

  /**
   * Copies a container's overlay layer into `dest` (upper/ and an empty work/), for a run that finds
   * the layer mounted by another one: it sees the container as it was then, and its writes are its own.
   */
  snapshotLayer(rec: ContainerRecord, dest: string): { upper: string; work: string } {
    const upper = path.join(dest, "upper");
    const work = path.join(dest, "work");
    copyTree(this.layerPath(rec), upper, { container: containerLabel(rec) });
    fs.mkdirSync(work);
    return { upper, work };
  }

  /**
   * The overlay layer one run of `rec` mounts, and how to give it back after the run: the container's
   * own upper/work when no other run has them mounted, else a private snapshot of its upper made in
   * a folder under `tmpBase` (on the store's file system), which `release` deletes with its writes
   * (named after this process: a killed run's snapshot is swept by the next command, src/run/sweep.ts).
   */
  async useLayer(
    rec: ContainerRecord,
    tmpBase: string,
  ): Promise<{ layer: { upper: string; work: string }; shared: boolean; release(): Promise<void> }> {
    const lock = await this.holdLayer(rec.id);
    if (lock) {
      const dir = this.path(rec.id);
      return {
        layer: { upper: path.join(dir, "upper"), work: path.join(dir, "work") },
        shared: true,
        release: () => lock.release(),
      };
    }
    const snap = path.join(tmpBase, `snapshot-${rec.id.slice(0, 12)}-${ownerTag()}-${randomHex(4)}`);
    fs.mkdirSync(snap, { recursive: true, mode: 0o700 });
    try {
      return {
        layer: this.snapshotLayer(rec, snap),
        shared: false,
        release: () => {
          removeTreeAtomic(snap);
          return Promise.resolve();
        },
      };
    } catch (err) {
      removeTreeAtomic(snap);
      throw err;
    }
  }

  /** The bytes the container's own layer holds. */
  layerBytes(rec: ContainerRecord): number {
    return treeBytes(this.layerPath(rec));
  }

  /**
   * Turns a container's overlay layer into a copy of the image with the layer's changes applied (as the
   * mounted overlay showed them), for an engine that cannot mount an overlay (`engine`, its name) or
   * for `inspect -p` (`engine`: "inspect -p"). The copy is made beside the layer and takes its place
   * only when complete.
   */
  convertToCopy(
    id: string,
    imageRootfs: string,
    engine: string,
    copy: (from: string, to: string) => void,
  ): ContainerRecord {
    const rec = this.read(id);
    if (!rec) throw new InvalidArgumentError(`no container ${id}`);
    if (rec.layer === "copy") return rec;
    const dir = this.path(id);
    const upper = path.join(dir, "upper");
    const tmp = path.join(dir, `.rootfs-${randomHex(4)}`);
    copy(imageRootfs, tmp);
    if (fs.existsSync(upper) && hasOwnChanges(upper)) {
      const label = rec.name ?? id.slice(0, 12);
      // A private snapshot of the layer, which no run of the container can change while it is applied:
      // applyUpper clears every link in the copy that the layer's entries would be written through.
      const snap = path.join(dir, `.upper-${randomHex(4)}`);
      try {
        copyTree(upper, snap);
        const opaque = readOpaqueDirsSync(snap);
        if (opaque === undefined) {
          throw new StoreError(
            engine === "inspect -p"
              ? `cannot read the overlay marks of container ${label} (GNU tar is needed), so it cannot become one folder: install GNU tar`
              : `cannot read the overlay marks of container ${label} (GNU tar is needed), so the ${engine} engine cannot run it: run it with userns or runc`,
          );
        }
        applyUpper(snap, tmp, opaque);
        removeTreeAtomic(snap);
      } catch (err) {
        removeTreeAtomic(snap);
        removeTreeAtomic(tmp);
        if (err instanceof StoreError) throw err;
        throw new StoreError(
          `cannot turn container ${label}'s overlay layer into a copy for ${engine === "inspect -p" ? engine : `the ${engine} engine`}: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
    fs.renameSync(tmp, path.join(dir, "rootfs"));
    const next: ContainerRecord = { ...rec, layer: "copy" };
    this.write(next);
    removeTreeAtomic(upper);
    removeTreeAtomic(path.join(dir, "work"));
    return next;
  }

  /**
   * Removes a container and its writable layer: renamed aside first (it disappears at once), then
   * deleted. A protected container is refused; one a live run has mounted too, unless `force`.
   */
  remove(id: string, opts: { force?: boolean } = {}): void {
    const rec = this.read(id);
    const label = rec ? containerLabel(rec) : id.slice(0, 12);
    if (this.isProtected(id)) {
      throw new ConflictError(`container ${label} is protected: run 'burrow unprotect ${label}' first`);
    }
    if (opts.force !== true && this.inUse(id)) {
      throw new ConflictError(
        `container ${label} is running: wait for it to exit, or use 'burrow rm -f ${label}'`,
      );
    }
    removeTreeAtomic(this.path(id));
  }
}
