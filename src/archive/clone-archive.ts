// udocker's container transport (`export --clone`, `import --clone`): one tar holding a container with its
// metadata. burrow's layout is two members, in this order:
//   burrow-clone.json  what makes the container more than its files: the image config it runs with
//                      (Env, Cmd, WorkingDir...), the image name, the saved engine (setup --execmode/--engine)
//   rootfs.tar         the container's whole root file system, as `burrow export` writes it
// The file comes from elsewhere and is hostile: the metadata is checked field by field, and rootfs.tar
// goes through the same import as any rootfs tarball (the flattener checks every member).
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Store, ImageRecord } from "../store/store.js";
import type { ContainerRecord } from "../store/containers.js";
import { containerLabel } from "../store/containers.js";
import { tempSibling } from "../store/atomic.js";
import { removeScratch, scratchPath, sweepStaging } from "../store/staging.js";
import { TarFormatError, TarParser, type TarEntry, type TarHandler } from "../image/tar-parser.js";
import {
  DecompressError,
  decompressFile,
  readHead,
  sniffCompression,
  unsupportedCompression,
} from "../image/decompress.js";
import { exportRootfs, memberHeader } from "./export.js";
import { containerFromImage, importTarball, stageInput } from "./import.js";
import { containerConfig } from "../run/image-config.js";
import { hostPlatform, type Platform } from "../registry/platform.js";
import { jsonKind } from "../json-kind.js";
import { isExecmode } from "../install/execmode.js";
import {
  ArchiveError,
  BurrowError,
  ImageConfigError,
  InvalidArgumentError,
  StoreError,
  storeFailure,
} from "../errors.js";

/** The metadata member's name, first in the archive. */
export const CLONE_META = "burrow-clone.json";
/** The root file system member's name, second and last. */
export const CLONE_ROOTFS = "rootfs.tar";
/** `format` of the metadata. */
export const CLONE_FORMAT = "burrow-container-clone";
/** The one version this burrow writes and reads. */
export const CLONE_VERSION = 1;
/** The metadata is small (an image config and a few names): a bigger member is refused, not buffered. */
const MAX_META = 1024 * 1024;
const BLOCK = 512;

/** burrow-clone.json as written. */
export interface CloneMeta {
  format: typeof CLONE_FORMAT;
  version: typeof CLONE_VERSION;
  container: {
    id: string;
    names: string[];
    imageName?: string | undefined;
    engine?: string | undefined;
    /** The udocker execmode the engine was set from (`setup --execmode`), shown by `setup`. */
    execmode?: string | undefined;
    created: string;
  };
  /** The OCI image config of the container's image (its rootfs.diff_ids replaced on import). */
  image: { id: string; config: Record<string, unknown> };
}

/** What the metadata gives an imported container, checked. */
export interface CheckedMeta {
  /** The image config to record, minus rootfs and history (import sets them). */
  config: Record<string, unknown>;
  platform: Platform;
  imageName: string | undefined;
  engine: string | undefined;
  /** The execmode the engine came from, kept only with a known engine and a known mode. */
  execmode: string | undefined;
  /** The engine the clone named that this burrow does not know (dropped, with a notice). */
  droppedEngine: string | undefined;
  /** How the clone's own container was called (for the notice). */
  from: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The metadata of `rec` (whose image is `image`, config `config`) as export --clone writes it. */
export function cloneMeta(
  rec: ContainerRecord,
  image: ImageRecord,
  config: Record<string, unknown>,
): CloneMeta {
  return {
    format: CLONE_FORMAT,
    version: CLONE_VERSION,
    container: {
      id: rec.id,
      names: rec.names ?? (rec.name !== undefined ? [rec.name] : []),
      ...(rec.imageName !== undefined ? { imageName: rec.imageName } : {}),
      ...(rec.engine !== undefined ? { engine: rec.engine } : {}),
      ...(rec.engine !== undefined && rec.execmode !== undefined ? { execmode: rec.execmode } : {}),
      created: rec.created,
    },
    image: { id: image.id, config },
  };
}

/**
 * Checks parsed burrow-clone.json (someone else's JSON) field by field; a wrong field is one line naming
 * it. `engines` and `checkEngine` say which engine settings this burrow knows (an unknown one is dropped).
 */
export function checkCloneMeta(
  raw: unknown,
  label: string,
  checkEngine: (setting: string) => string,
  checkImageName: (name: string) => string,
): CheckedMeta {
  const bad = (what: string): ArchiveError =>
    new ArchiveError(
      `cannot import ${label}: its ${CLONE_META} ${what}: it is not a container clone burrow can read`,
    );
  if (!isObject(raw)) throw bad(`is ${jsonKind(raw)}, not an object`);
  if (raw.format !== CLONE_FORMAT)
    throw bad(`has format ${JSON.stringify(raw.format)}, not "${CLONE_FORMAT}"`);
  if (raw.version !== CLONE_VERSION) {
    throw new ArchiveError(
      `cannot import ${label}: it is a version ${JSON.stringify(raw.version)} container clone and this burrow reads version ${CLONE_VERSION}: import it with the burrow that wrote it, or a newer one`,
    );
  }
  const container = raw.container;
  if (!isObject(container)) throw bad(`has a container field that is ${jsonKind(container)}, not an object`);
  const image = raw.image;
  if (!isObject(image)) throw bad(`has an image field that is ${jsonKind(image)}, not an object`);
  const config = image.config;
  if (!isObject(config)) throw bad(`has an image.config that is ${jsonKind(config)}, not an object`);
  // The run settings are checked as any image's are, so that a bad one is refused now, not at the first run.
  try {
    containerConfig(config, {});
  } catch (err) {
    if (err instanceof ImageConfigError) {
      throw new ArchiveError(`cannot import ${label}: ${err.message}`, { cause: err });
    }
    throw err;
  }
  const platform = hostPlatform();
  for (const field of ["os", "architecture", "variant"] as const) {
    const v = config[field];
    if (v !== undefined && (typeof v !== "string" || !/^[a-z0-9_.-]{1,64}$/i.test(v))) {
      throw bad(`has an image.config.${field} that is ${jsonKind(v)}, not a platform word`);
    }
  }
  const carried: Platform = {
    os: typeof config.os === "string" ? config.os : platform.os,
    architecture: typeof config.architecture === "string" ? config.architecture : platform.architecture,
    ...(typeof config.variant === "string" ? { variant: config.variant } : {}),
  };
  const optionalString = (field: string): string | undefined => {
    const v = container[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string" || v.length > 4096 || hasControl(v)) {
      throw bad(`has a container.${field} that is ${jsonKind(v)}, not a printable string`);
    }
    return v;
  };
  let imageName = optionalString("imageName");
  if (imageName !== undefined) {
    try {
      imageName = checkImageName(imageName);
    } catch (err) {
      throw new ArchiveError(
        `cannot import ${label}: its ${CLONE_META} names the image ${JSON.stringify(imageName)}, which is not an image reference`,
        { cause: err },
      );
    }
  }
  const engineRaw = optionalString("engine");
  let engine: string | undefined;
  let droppedEngine: string | undefined;
  if (engineRaw !== undefined) {
    try {
      engine = checkEngine(engineRaw);
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      droppedEngine = engineRaw;
    }
  }
  const execmodeRaw = engine !== undefined ? optionalString("execmode") : undefined;
  const execmode =
    execmodeRaw !== undefined && isExecmode(execmodeRaw) ? execmodeRaw.toUpperCase() : undefined;
  const names = container.names;
  const first = Array.isArray(names) && typeof names[0] === "string" ? names[0] : undefined;
  const id = typeof container.id === "string" ? container.id : undefined;
  const from = first ?? (id !== undefined && /^[a-f0-9]{12,64}$/.test(id) ? id.slice(0, 12) : "(unnamed)");
  // The layers and their history are the exporter's: the import records its one layer itself.
  const { rootfs: _rootfs, history: _history, ...rest } = config;
  return {
    config: rest,
    platform: carried,
    imageName,
    engine,
    execmode,
    droppedEngine,
    from: printable(from),
  };
}

/** Whether a string holds a control character (a NUL, a newline, an escape). */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** A name from the archive, safe to print on one line. */
function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, 128);
}

/** The image config an imported clone is recorded with: the carried one with the new layer. */
export function cloneConfig(meta: CheckedMeta, diff: string, created: Date, label: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      ...meta.config,
      os: meta.platform.os,
      architecture: meta.platform.architecture,
      ...(meta.platform.variant !== undefined ? { variant: meta.platform.variant } : {}),
      rootfs: { type: "layers", diff_ids: [diff] },
      history: [
        {
          created: created.toISOString(),
          created_by: "burrow import --clone",
          comment: `container ${meta.from} imported from ${label}`,
        },
      ],
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// export --clone

/** Writes container `rec` (its whole rootfs, its metadata) as a clone archive to `output` (a path or a stream). */
export async function exportClone(
  store: Store,
  rec: ContainerRecord,
  source: { lower: string; upper?: string | undefined },
  output: string | Writable,
  opts: { warn(message: string): void; outputLabel: string },
): Promise<{ entries: number; bytes: number }> {
  const label = containerLabel(rec);
  const image = store.readImage(rec.image);
  const blob = image ? store.readBlob(image.configDigest) : undefined;
  if (!image || !blob) {
    throw new StoreError(
      `the image of container ${label} is gone from the store: its run settings cannot be exported with it (export without --clone writes its files alone)`,
    );
  }
  let config: unknown;
  try {
    config = JSON.parse(blob.toString("utf8"));
  } catch (err) {
    throw new StoreError(`the config of container ${label}'s image cannot be read: run 'burrow verify'`, {
      cause: err,
    });
  }
  if (!isObject(config)) throw new StoreError(`the config of container ${label}'s image is not an object`);
  const meta = Buffer.from(JSON.stringify(cloneMeta(rec, image, config), null, 2) + "\n");

  fs.mkdirSync(store.paths.tmp, { recursive: true });
  sweepStaging(store);
  const inner = scratchPath(store, "clone-export", ".tar");
  try {
    const stats = await exportRootfs(source, inner, { warn: opts.warn, container: label });
    const size = fs.statSync(inner).size;
    const now = Math.floor(Date.now() / 1000);
    const chunks = async function* (): AsyncGenerator<Buffer> {
      yield memberHeader({ name: CLONE_META, type: "0", mode: 0o644, size: meta.length, mtime: now });
      yield meta;
      yield Buffer.alloc(pad(meta.length));
      yield memberHeader({ name: CLONE_ROOTFS, type: "0", mode: 0o644, size, mtime: now });
      for await (const chunk of fs.createReadStream(inner, { highWaterMark: 1 << 20 })) yield chunk as Buffer;
      yield Buffer.alloc(pad(size) + 2 * BLOCK);
    };
    if (typeof output !== "string") {
      await pipeline(Readable.from(chunks()), output, { end: false });
      return stats;
    }
    await writeFileFrom(output, opts.outputLabel, chunks());
    return stats;
  } finally {
    removeScratch(inner);
  }
}

function pad(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Writes the chunks to `file` under a temporary name, renamed into place when complete. */
async function writeFileFrom(file: string, label: string, chunks: AsyncIterable<Buffer>): Promise<void> {
  const target = path.resolve(file);
  if (fs.statSync(target, { throwIfNoEntry: false })?.isDirectory()) {
    throw new InvalidArgumentError(`${label} is a folder: give the name of the file to write`);
  }
  const tmp = tempSibling(target, "part");
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, "wx", 0o666);
  } catch (err) {
    throw new InvalidArgumentError(`cannot write ${label}: ${reason(err)}`, { cause: err });
  }
  const onSignal = (sig: NodeJS.Signals): void => {
    fs.rmSync(tmp, { force: true });
    process.kill(process.pid, sig);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    for await (const chunk of chunks) await fh.write(chunk);
    await fh.sync();
    await fh.close();
    fh = undefined;
    fs.renameSync(tmp, target);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    fs.rmSync(tmp, { force: true });
    if (err instanceof BurrowError) throw err;
    if (typeof (err as NodeJS.ErrnoException).code === "string") {
      throw new StoreError(`export to ${label} failed: ${reason(err)}`, { cause: err });
    }
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** A system error's reason without Node's syscall and path decorations. */
function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const m = /^[A-Z]+: ([^,]+),/.exec(e.message ?? "");
  return m ? m[1]! : (e.message ?? String(err));
}

// ---------------------------------------------------------------------------------------------------
// import --clone

/** What the first members of an archive are: a burrow clone (metadata and rootfs.tar split out), or not. */
type Split = { kind: "clone"; meta: Buffer } | { kind: "plain" };

/** Stops the scan of an archive that is no clone (its first member is something else). */
class NotAClone extends Error {}

/** A member name as a relative path: `./x` and `x` are one name. */
function memberName(p: string): string {
  return p.replace(/^(?:\.\/)+/, "");
}

/**
 * Reads the archive's members in order: burrow-clone.json (kept in memory, at most 1 MiB), rootfs.tar
 * (written to `rootfsFile`), then nothing else. An archive whose first member is not burrow-clone.json is
 * "plain" (udocker's own `import --clone` takes any rootfs tarball too).
 */
class CloneSplitter implements TarHandler {
  private stage: "meta" | "rootfs" | "done" = "meta";
  private current: "meta" | "rootfs" | undefined;
  meta: Buffer | undefined;
  sawRootfs = false;
  private fd = -1;

  constructor(
    private readonly label: string,
    private readonly rootfsFile: string,
  ) {}

  entry(e: TarEntry): void {
    const name = memberName(e.path);
    if (this.stage === "meta") {
      if (name !== CLONE_META) throw new NotAClone();
      this.regular(e, name);
      if (e.size > MAX_META) {
        throw new ArchiveError(
          `cannot import ${this.label}: its ${CLONE_META} is ${e.size} bytes, more than a container's metadata holds (${MAX_META}): it is not a container clone burrow can read`,
        );
      }
      this.meta = Buffer.alloc(e.size);
      this.current = "meta";
      this.stage = "rootfs";
      return;
    }
    if (this.stage === "rootfs") {
      if (name !== CLONE_ROOTFS) {
        throw new ArchiveError(
          `cannot import ${this.label}: its second member is ${JSON.stringify(printable(name))}, not ${CLONE_ROOTFS}: it is not a complete container clone`,
        );
      }
      this.regular(e, name);
      this.fd = fs.openSync(this.rootfsFile, "wx", 0o600);
      this.current = "rootfs";
      this.sawRootfs = true;
      this.stage = "done";
      return;
    }
    throw new ArchiveError(
      `cannot import ${this.label}: it has a member ${JSON.stringify(printable(name))} after ${CLONE_ROOTFS}, which a container clone does not have`,
    );
  }

  /** Refuses a metadata or rootfs member that is not a plain regular file. */
  private regular(e: TarEntry, name: string): void {
    if (e.type !== "0" || e.sparse !== undefined) {
      throw new ArchiveError(
        `cannot import ${this.label}: its ${name} is not a regular file (type ${JSON.stringify(e.type)}): it is not a container clone burrow can read`,
      );
    }
  }

  data(buf: Buffer, start: number, end: number, offset: number): void {
    if (this.current === "meta") buf.copy(this.meta!, offset, start, end);
    else if (this.current === "rootfs") {
      for (let off = start; off < end;)
        off += fs.writeSync(this.fd, buf, off, end - off, offset + off - start);
    }
  }

  entryEnd(): void {
    if (this.current === "rootfs") this.closeFile(true);
    this.current = undefined;
  }

  /** Closes the rootfs file (synced when complete). */
  closeFile(sync = false): void {
    if (this.fd < 0) return;
    try {
      if (sync) fs.fsyncSync(this.fd);
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** Reads `file` (a staged archive) into its clone parts, or says it is a plain rootfs tarball. */
async function splitClone(file: string, label: string, rootfsFile: string): Promise<Split> {
  const head = readHead(file, 8);
  if (head.length === 0) throw new ArchiveError(`cannot import ${label}: it is empty, not a tarball`);
  const unsupported = unsupportedCompression(head);
  if (unsupported !== undefined) {
    throw new ArchiveError(
      `cannot import ${label}: ${unsupported}-compressed archives are not supported: decompress it first, or recompress it with gzip or zstd`,
    );
  }
  const splitter = new CloneSplitter(label, rootfsFile);
  const parser = new TarParser(splitter);
  try {
    for await (const chunk of decompressFile(file, sniffCompression(head))) parser.write(chunk);
    parser.end();
  } catch (err) {
    if (err instanceof NotAClone) return { kind: "plain" };
    if (err instanceof BurrowError) throw err;
    if (err instanceof TarFormatError) {
      throw new ArchiveError(`cannot import ${label}: it is not a valid tar archive: ${err.message}`, {
        cause: err,
      });
    }
    if (err instanceof DecompressError) {
      throw new ArchiveError(
        `cannot import ${label}: it cannot be decompressed (truncated or corrupt): ${err.message}`,
        {
          cause: err,
        },
      );
    }
    throw storeFailure(`cannot import ${label}`, err);
  } finally {
    splitter.closeFile();
  }
  if (splitter.meta === undefined) throw new NotACloneError(label);
  if (!splitter.sawRootfs) {
    throw new ArchiveError(
      `cannot import ${label}: it has ${CLONE_META} but no ${CLONE_ROOTFS}: it is cut short, not a complete container clone`,
    );
  }
  return { kind: "clone", meta: splitter.meta };
}

/** An archive with no member at all. */
class NotACloneError extends ArchiveError {
  constructor(label: string) {
    super(
      `cannot import ${label}: it holds no files: give a container clone written by 'burrow export --clone'`,
    );
  }
}

/** With --mv, removes the imported file once the container is in place. */
function removeMoved(opts: ImportCloneOptions): void {
  if (!opts.move || typeof opts.input !== "string") return;
  try {
    fs.rmSync(opts.input);
  } catch (err) {
    opts.warn(`imported, but cannot remove ${opts.label}: ${reason(err)}`);
  }
}

/** What import --clone is asked. */
export interface ImportCloneOptions {
  store: Store;
  input: string | Readable;
  label: string;
  /** The new container's name (--name). */
  name: string | undefined;
  /** REPO:TAG for the image the container rests on (normalised); none lists it by id only. */
  reference: string | undefined;
  move: boolean;
  warn(message: string): void;
  info(message: string): void;
  checkEngine(setting: string): string;
  checkImageName(name: string): string;
}

/**
 * Imports a clone archive as a container: its rootfs becomes a one-layer image (listed by id, as for
 * --tocontainer) recorded with the clone's image config, and the container rests on it with the clone's
 * engine setting. Nothing is visible until all of it is in place. A plain rootfs tarball is imported as
 * with --tocontainer, and said so.
 */
export async function importClone(opts: ImportCloneOptions): Promise<ContainerRecord> {
  const { store, label } = opts;
  fs.mkdirSync(store.paths.tmp, { recursive: true });
  sweepStaging(store);
  const staged = scratchPath(store, "clone-import", ".tar");
  const rootfsFile = scratchPath(store, "clone-import", "-rootfs.tar");
  let file: string;
  try {
    if (typeof opts.input === "string") {
      const st = fs.statSync(opts.input, { throwIfNoEntry: false });
      if (!st) throw new InvalidArgumentError(`cannot read ${label}: no such file`);
      if (!st.isFile())
        throw new InvalidArgumentError(`${label} is not a file: give a container clone to import`);
      file = opts.input;
    } else {
      await stageInput(opts.input, label, staged, false);
      file = staged;
    }
    const split = await splitClone(file, label, rootfsFile);
    if (split.kind === "plain") {
      opts.warn(
        `${label} holds no ${CLONE_META} (it is not from 'burrow export --clone'): imported as a plain root file system, as import --tocontainer does`,
      );
      const result = await importTarball({
        store,
        input: file,
        label,
        name: opts.reference,
        warn: opts.warn,
      });
      const rec = await containerFromImage(store, result.image, opts.name);
      removeMoved(opts);
      return rec;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(split.meta.toString("utf8"));
    } catch (err) {
      throw new ArchiveError(
        `cannot import ${label}: its ${CLONE_META} is not JSON: it is not a container clone burrow can read`,
        {
          cause: err,
        },
      );
    }
    const meta = checkCloneMeta(raw, label, opts.checkEngine, opts.checkImageName);
    if (meta.droppedEngine !== undefined) {
      opts.warn(
        `container ${meta.from} was set up with the engine ${JSON.stringify(printable(meta.droppedEngine))}, which this burrow does not have: the imported container selects its engine automatically ('burrow setup' sets one)`,
      );
    }
    const result = await importTarball({
      store,
      input: rootfsFile,
      label,
      name: opts.reference,
      move: true,
      warn: opts.warn,
      config: (diff, created) => cloneConfig(meta, diff, created, label),
      platform: meta.platform,
    });
    const rec = await containerFromImage(store, result.image, opts.name, {
      imageName: meta.imageName,
      engine: meta.engine,
      execmode: meta.execmode,
    });
    removeMoved(opts);
    opts.info(
      `imported container ${meta.from}${meta.engine !== undefined ? ` (engine ${meta.engine})` : ""} as ${containerLabel(rec)}`,
    );
    return rec;
  } catch (err) {
    if (err instanceof BurrowError) throw err;
    throw storeFailure(`cannot import ${label}`, err);
  } finally {
    removeScratch(staged);
    removeScratch(rootfsFile);
  }
}
