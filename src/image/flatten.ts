// Flattens image layers into one rootfs: safe streaming extraction with OCI whiteouts applied.
import fs from "node:fs";
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import path from "node:path";
import { execFileSync } from "node:child_process";
import {
  DigestMismatchError,
  LayerFormatError,
  StoreError,
  UnsafeLayerError,
  storeFailure,
} from "../errors.js";
import { TarFormatError, TarParser, type TarEntry, type TarHandler } from "./tar-parser.js";
import { InRootResolver, UnsafePathError, normalizeEntryPath, splitParent } from "./safe-path.js";
import { displayPath, fsPath, removeTree } from "./byte-path.js";
import { PendingXattrs, XattrWriter } from "./xattrs.js";
import {
  LayerAdditions,
  classifyWhiteout,
  removeLower,
  removeLowerChildren,
  underWhiteoutName,
} from "./whiteout.js";
import {
  DecompressError,
  decompressFile,
  findOnPath,
  mediaTypeCompression,
  peekHead,
  readHead,
  sniffCompression,
  unsupportedCompression,
} from "./decompress.js";

/** One layer blob to apply. */
export interface LayerInput {
  digest: string;
  mediaType: string;
  /** Path of the compressed blob on disk, already sha256-verified. */
  file: string;
  size: number;
  /**
   * The blob's bytes while they are being downloaded, read instead of `file`. The caller publishes
   * nothing built from it until the download is verified against the digest.
   */
  stream?: Readable | undefined;
  /**
   * The layer's diff_id from the image config: the sha256 of its uncompressed tar, hashed while it is
   * extracted (no second pass). A layer whose bytes hash otherwise fails with DigestMismatchError once
   * read to its end; the caller then throws away the rootfs it was flattened into.
   */
  diffId?: string | undefined;
  /** How the layer is named in a diff_id mismatch (default: `layer <digest>`). */
  label?: string | undefined;
}

/** Callbacks for a flatten run. */
export interface FlattenOptions {
  /** Told about content that is skipped (device nodes, unsupported members). */
  warn(message: string): void;
  /** Told the compressed bytes of layer `index` read so far. */
  onLayerProgress?(index: number, bytesRead: number): void;
  /**
   * Sets the layers' `user.*` xattrs; share one between the flatten calls of a command so that it warns
   * once. A new one per call when not given.
   */
  xattrs?: XattrWriter | undefined;
  /** Also told every entry of every layer, in order (the owners pull keeps for builds: src/builder/layer-owners.ts). */
  entries?: { entry(entry: TarEntry): void } | undefined;
}

/** What a flatten run did, summed over all layers. */
export interface FlattenStats {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  whiteouts: number;
  skipped: number;
  /** Bytes of regular-file data written. */
  bytes: number;
}

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
/** New files only, never through a symlink (libuv adds O_CLOEXEC itself). */
const CREATE_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

/** The process umask, read without changing it; 0o777 (always chmod) when it cannot be read. */
function currentUmask(): number {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (m) return parseInt(m[1]!, 8);
  } catch {
    // not Linux or no procfs
  }
  return 0o777;
}

/** Shared state of one flatten run: the resolver, directory mtimes (set at the end) and the stats. */
interface RunState {
  /** The root as Node gives it (UTF-8), for the xattr helper's command line. */
  rootfs: string;
  resolver: InRootResolver;
  dirMtimes: Map<string, number>;
  stats: FlattenStats;
  umask: number;
  xattrs: XattrWriter;
  warn(message: string): void;
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/** Applies one layer's members as the tar parser hands them over. */
class LayerApplier implements TarHandler {
  private fd = -1;
  private fileMode = 0;
  private fileMtime = 0;
  /** The real size of the sparse file being written (-1 for an ordinary file). */
  private sparseSize = -1;
  private readonly additions = new LayerAdditions();
  readonly xattrs = new PendingXattrs();
  private readonly devices: string[] = [];
  private readonly resolver: InRootResolver;
  private readonly onCreate = (realRel: string): void => this.additions.add(realRel);

  constructor(
    private readonly run: RunState,
    private readonly digest: string,
  ) {
    this.resolver = run.resolver;
  }

  entry(e: TarEntry): void {
    const rel = normalizeEntryPath(e.path);
    const [parent, name] = splitParent(rel);
    // Set when the layer ends (one helper run), on the member this entry creates.
    this.pendingXattrs = e.xattrs;
    const wh = classifyWhiteout(name);
    if (wh !== undefined) {
      if (wh.kind === "meta") return;
      this.run.stats.whiteouts++;
      if (wh.kind === "opaque") this.opaque(parent);
      else this.whiteout(parent, wh.name);
      return;
    }
    if (underWhiteoutName(parent)) return this.skip(e, rel, "it lies under a whiteout name");
    switch (e.type) {
      case "0":
      case "7":
        return this.file(rel, parent, name, e);
      case "5":
      case "D":
        return this.directory(rel, parent, name, e);
      case "2":
        return this.symlink(rel, parent, name, e);
      case "1":
        return this.hardlink(rel, parent, name, e);
      case "3":
      case "4":
        // Reported once per layer (a base image has a handful under /dev): they need root to create.
        this.run.stats.skipped++;
        this.devices.push(rel);
        return;
      case "6":
        return this.fifo(rel, parent, name, e);
      default:
        return this.skip(e, rel, `member type "${e.type}" is not supported`);
    }
  }

  data(buf: Buffer, start: number, end: number, offset: number): void {
    if (this.fd < 0) return;
    if (this.sparseSize >= 0) {
      // Each region at its offset: what is skipped stays a hole.
      while (start < end) {
        const n = fs.writeSync(this.fd, buf, start, end - start, offset);
        start += n;
        offset += n;
      }
      return;
    }
    while (start < end) start += fs.writeSync(this.fd, buf, start, end - start);
  }

  entryEnd(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      if (this.sparseSize >= 0) fs.ftruncateSync(fd, this.sparseSize);
      if ((this.fileMode & this.run.umask) !== 0) fs.fchmodSync(fd, this.fileMode);
      fs.futimesSync(fd, this.fileMtime, this.fileMtime);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Sets the layer's xattrs and reports what it skipped as a whole, once its members are all applied. */
  finish(): void {
    this.run.xattrs.apply(this.run.rootfs, this.xattrs, this.run.warn);
    this.xattrs.clear();
    if (this.devices.length === 0) return;
    const shown =
      this.devices
        .slice(0, 5)
        .map((d) => displayPath(d))
        .join(", ") + (this.devices.length > 5 ? ", ..." : "");
    this.run.warn(
      `layer ${this.digest}: skipped ${this.devices.length} device node${this.devices.length > 1 ? "s" : ""} (${shown}): they cannot be created without root`,
    );
  }

  /** Closes a file left open by an aborted layer. */
  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  private skip(e: TarEntry, rel: string, why: string): void {
    this.run.stats.skipped++;
    this.run.warn(`layer ${this.digest}: skipping "${displayPath(rel || e.path)}": ${why}`);
  }

  /** The xattrs of the member being applied, taken by the step that creates it. */
  private pendingXattrs: Map<string, string> | undefined;

  /** Records that the member at `realRel` was created: it carries the entry's xattrs, or none. */
  private created(realRel: string): void {
    this.additions.add(realRel);
    const x = this.pendingXattrs;
    if (x !== undefined) {
      this.pendingXattrs = undefined;
      this.xattrs.add(realRel, x);
    } else {
      this.xattrs.forget(realRel);
    }
  }

  /** The real directory that will hold a new member, created as needed. */
  private parentDir(parent: string): string {
    return this.resolver.resolveDir(parent, true, this.onCreate)!;
  }

  private join(dirReal: string, name: string): string {
    return dirReal === "" ? name : dirReal + "/" + name;
  }

  /** Removes whatever is at `realRel` so a new member can take its place; a directory goes with its content. */
  private removeExisting(realRel: string): void {
    const st = fs.lstatSync(this.resolver.sys(realRel), { throwIfNoEntry: false });
    if (st === undefined) return;
    if (st.isDirectory()) {
      removeTree(this.resolver.paths, realRel);
      this.resolver.invalidate();
    } else {
      fs.unlinkSync(this.resolver.sys(realRel));
      if (st.isSymbolicLink()) this.resolver.invalidate();
    }
  }

  private file(rel: string, parent: string, name: string, e: TarEntry): void {
    if (rel === "") throw new UnsafePathError("a file member replaces the root directory");
    const realRel = this.join(this.parentDir(parent), name);
    const mode = e.mode | 0o600;
    let fd: number;
    try {
      fd = fs.openSync(this.resolver.sys(realRel), CREATE_FLAGS, mode);
    } catch (err) {
      if (!isErrno(err, "EEXIST")) throw err;
      this.removeExisting(realRel);
      fd = fs.openSync(this.resolver.sys(realRel), CREATE_FLAGS, mode);
    }
    this.fd = fd;
    this.fileMode = mode;
    this.fileMtime = e.mtime;
    this.sparseSize = e.sparse === undefined ? -1 : e.size;
    this.created(realRel);
    this.run.stats.files++;
    this.run.stats.bytes += e.size;
    // A sparse file with no data is all hole: the parser hands no data over, only entryEnd.
  }

  private directory(rel: string, parent: string, name: string, e: TarEntry): void {
    const mode = e.mode | 0o700;
    let realRel: string;
    if (rel === "") {
      realRel = "";
      fs.chmodSync(this.resolver.sys(""), mode);
      this.created("");
    } else {
      realRel = this.join(this.parentDir(parent), name);
      const abs = this.resolver.sys(realRel);
      try {
        fs.mkdirSync(abs, mode);
        if ((mode & this.run.umask) !== 0) fs.chmodSync(abs, mode);
      } catch (err) {
        if (!isErrno(err, "EEXIST")) throw err;
        const st = fs.lstatSync(abs);
        if (!st.isDirectory()) {
          this.removeExisting(realRel);
          fs.mkdirSync(this.resolver.sys(realRel), mode);
        }
        // An existing directory is merged into: its content stays, it takes the new mode.
        fs.chmodSync(this.resolver.sys(realRel), mode);
      }
      this.resolver.remember(rel, realRel);
      this.created(realRel);
    }
    this.run.dirMtimes.set(realRel, e.mtime);
    this.run.stats.dirs++;
  }

  private symlink(rel: string, parent: string, name: string, e: TarEntry): void {
    if (rel === "") throw new UnsafePathError("a symlink member replaces the root directory");
    if (e.linkpath === "") throw new TarFormatError("symlink with an empty target");
    const realRel = this.join(this.parentDir(parent), name);
    const target = fsPath(e.linkpath);
    try {
      fs.symlinkSync(target, this.resolver.sys(realRel));
    } catch (err) {
      if (!isErrno(err, "EEXIST")) throw err;
      this.removeExisting(realRel);
      fs.symlinkSync(target, this.resolver.sys(realRel));
    }
    fs.lutimesSync(this.resolver.sys(realRel), e.mtime, e.mtime);
    this.created(realRel);
    this.run.stats.symlinks++;
  }

  private hardlink(rel: string, parent: string, name: string, e: TarEntry): void {
    if (rel === "") throw new UnsafePathError("a hardlink member replaces the root directory");
    const targetRel = normalizeEntryPath(e.linkpath);
    if (targetRel === "") throw new UnsafePathError("hardlink to the root directory");
    const [tParent, tName] = splitParent(targetRel);
    const tDir = this.resolver.resolveDir(tParent, false);
    const tReal = tDir === undefined ? undefined : this.join(tDir, tName);
    const tSt =
      tReal === undefined ? undefined : fs.lstatSync(this.resolver.sys(tReal), { throwIfNoEntry: false });
    if (tReal === undefined || tSt === undefined) {
      throw new TarFormatError(`hardlink target "${displayPath(e.linkpath)}" does not exist`);
    }
    if (tSt.isDirectory()) {
      throw new TarFormatError(`hardlink target "${displayPath(e.linkpath)}" is a directory`);
    }
    const realRel = this.join(this.parentDir(parent), name);
    try {
      fs.linkSync(this.resolver.sys(tReal), this.resolver.sys(realRel));
    } catch (err) {
      if (!isErrno(err, "EEXIST")) throw err;
      const st = fs.lstatSync(this.resolver.sys(realRel));
      if (st.ino !== tSt.ino || st.dev !== tSt.dev) {
        this.removeExisting(realRel);
        fs.linkSync(this.resolver.sys(tReal), this.resolver.sys(realRel));
      }
    }
    // The link shares its target's inode, and so its xattrs: a hardlink member carries none of its own.
    this.pendingXattrs = undefined;
    this.created(realRel);
    this.run.stats.hardlinks++;
  }

  private fifo(rel: string, parent: string, name: string, e: TarEntry): void {
    const mkfifo = findOnPath("mkfifo");
    if (rel === "" || mkfifo === undefined) return this.skip(e, rel, "fifos need mkfifo on PATH");
    const realRel = this.join(this.parentDir(parent), name);
    this.removeExisting(realRel);
    // Made under a short ASCII name in the root (mkfifo takes its path as text), then renamed into place:
    // rename(2) never follows a symlink at either end, and works for byte names and long paths.
    const tmp = `${this.run.rootfs}/.burrow-fifo-${process.pid}-${Date.now()}`;
    execFileSync(mkfifo, ["-m", ((e.mode | 0o600) & 0o7777).toString(8), "--", tmp], { stdio: "ignore" });
    try {
      fs.renameSync(tmp, this.resolver.sys(realRel));
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    fs.lutimesSync(this.resolver.sys(realRel), e.mtime, e.mtime);
    this.created(realRel);
    this.run.stats.files++;
  }

  /** `.wh.NAME` in `parent`: removes NAME as lower layers left it. */
  private whiteout(parent: string, name: string): void {
    const dir = this.resolver.resolveDir(parent, false);
    if (dir === undefined) return;
    removeLower(this.resolver.paths, this.join(dir, name), this.additions, this.onRemoved);
  }

  /** `.wh..wh..opq` in `parent`: removes the directory's lower-layer children. */
  private opaque(parent: string): void {
    const dir = this.parentDir(parent);
    removeLowerChildren(this.resolver.paths, dir, this.additions, this.onRemoved);
  }

  private readonly onRemoved = (_realRel: string, dirOrLink: boolean): void => {
    if (dirOrLink) this.resolver.invalidate();
  };
}

/** Turns an error from applying a layer into a one-line burrow error naming the layer and the member. */
function layerError(err: unknown, digest: string, member: string): Error {
  if (
    err instanceof UnsafeLayerError ||
    err instanceof LayerFormatError ||
    err instanceof StoreError ||
    err instanceof DigestMismatchError
  )
    return err;
  const where = `layer ${digest}${member ? `, entry "${displayPath(member)}"` : ""}`;
  const msg = (err as Error | undefined)?.message ?? String(err);
  if (err instanceof UnsafePathError)
    return new UnsafeLayerError(`${where}: refused: ${msg}`, { cause: err });
  if (err instanceof TarFormatError || err instanceof DecompressError) {
    return new LayerFormatError(`${where}: ${msg}`, { cause: err });
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC" || code === "EDQUOT" || code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return storeFailure(`cannot extract ${where}`, err);
  }
  // Node's message names the path, which may be kilobytes long: the reason alone ("ENAMETOOLONG: name too long").
  if (typeof code === "string") {
    return new LayerFormatError(`${where}: ${/^[A-Z]+: [^,]+/.exec(msg)?.[0] ?? msg}`, { cause: err });
  }
  return err instanceof Error ? err : new Error(msg);
}

/** Throws DigestMismatchError when a layer's uncompressed bytes hashed to `got`, not to its diff_id. */
function checkDiffId(layer: LayerInput, got: string): void {
  if (layer.diffId === undefined || got === layer.diffId) return;
  throw new DigestMismatchError(
    `${layer.label ?? `layer ${layer.digest}`} is not the layer the image config names: its uncompressed ` +
      `content hashes to ${got}, the config's diff_id is ${layer.diffId}`,
  );
}

/** Streams one layer blob through the tar parser into the rootfs. */
async function applyLayer(
  run: RunState,
  layer: LayerInput,
  index: number,
  opts: FlattenOptions,
): Promise<void> {
  const claimed = mediaTypeCompression(layer.mediaType);
  if (claimed === undefined) {
    throw new LayerFormatError(`layer ${layer.digest}: media type "${layer.mediaType}" is not a tar layer`);
  }
  let applier: LayerApplier | undefined;
  let parser: TarParser | undefined;
  try {
    // The blob's own magic bytes decide; the media type is only checked to be a layer type.
    const source: string | Readable = layer.stream ?? layer.file;
    const head = layer.stream ? await peekHead(layer.stream, 8) : readHead(layer.file, 8);
    const unsupported = unsupportedCompression(head);
    if (unsupported !== undefined)
      throw new DecompressError(`${unsupported}-compressed layers are not supported`);
    const compression = sniffCompression(head);
    applier = new LayerApplier(run, layer.digest);
    const tee = opts.entries;
    parser = new TarParser(
      tee === undefined
        ? applier
        : {
            entry: (e) => {
              tee.entry(e);
              applier!.entry(e);
            },
            data: (buf, start, end, offset) => applier!.data(buf, start, end, offset),
            entryEnd: () => applier!.entryEnd(),
          },
    );
    const progress = opts.onLayerProgress;
    const onRead = progress ? (bytes: number): void => progress.call(opts, index, bytes) : undefined;
    const hash = layer.diffId !== undefined ? createHash("sha256") : undefined;
    for await (const chunk of decompressFile(source, compression, onRead)) {
      hash?.update(chunk);
      parser.write(chunk);
    }
    parser.end();
    if (hash !== undefined) checkDiffId(layer, `sha256:${hash.digest("hex")}`);
    applier.finish();
  } catch (err) {
    throw layerError(err, layer.digest, parser?.currentPath ?? "");
  } finally {
    applier?.close();
  }
}

/** Sets the recorded directory mtimes, skipping any directory that later became something else. */
function applyDirMtimes(run: RunState): void {
  for (const [realRel, mtime] of run.dirMtimes) {
    if (realRel !== "") {
      const [parent] = splitParent(realRel);
      // Only a path that is still a chain of real directories is touched (a later layer may have
      // replaced a component with a symlink, even a looping one).
      try {
        if (run.resolver.resolveDir(parent, false) !== parent) continue;
      } catch (err) {
        if (err instanceof UnsafePathError) continue;
        throw err;
      }
      const st = fs.lstatSync(run.resolver.sys(realRel), { throwIfNoEntry: false });
      if (st === undefined || !st.isDirectory()) continue;
    }
    fs.lutimesSync(run.resolver.sys(realRel), mtime, mtime);
  }
}

/** Applies the layers in order into `rootfs` (an existing, empty directory, or one holding the layers applied before). */
export async function flattenLayers(
  rootfs: string,
  layers: LayerInput[],
  opts: FlattenOptions,
): Promise<FlattenStats> {
  let root: string;
  try {
    root = fs.realpathSync(path.resolve(rootfs));
  } catch (err) {
    throw storeFailure(`cannot open the rootfs ${rootfs}`, err);
  }
  if (root === "/") throw new StoreError("refusing to flatten layers into /");
  const run: RunState = {
    rootfs: root,
    resolver: new InRootResolver(root),
    dirMtimes: new Map(),
    stats: { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, whiteouts: 0, skipped: 0, bytes: 0 },
    umask: currentUmask(),
    xattrs: opts.xattrs ?? new XattrWriter(),
    warn: (m) => opts.warn(m),
  };
  try {
    for (const [index, layer] of layers.entries()) await applyLayer(run, layer, index, opts);
    try {
      applyDirMtimes(run);
    } catch (err) {
      throw storeFailure(`cannot set directory times in ${rootfs}`, err);
    }
  } finally {
    run.resolver.close();
  }
  return run.stats;
}
