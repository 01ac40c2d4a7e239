// Exporting a rootfs as a tar stream: the image's tree, or an overlay container's merged view
// (its upper layer over the image, whiteouts and opaque folders applied as the kernel's overlay does).
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable, type Writable } from "node:stream";
import { isUtf8 } from "node:buffer";
import { isWhiteout, listDirBytes, readOpaqueDirsSync, withAccess } from "../store/overlay-upper.js";
import { RootPaths, displayPath } from "../image/byte-path.js";
import { tempSibling } from "../store/atomic.js";
import { InvalidArgumentError, StoreError } from "../errors.js";

/** What to export: a tree, or an overlay upper layer over it. */
export interface ExportSource {
  /** The image rootfs (or a copy container's own rootfs). */
  lower: string;
  /** An overlay container's upper folder, whose changes win over `lower`. */
  upper?: string | undefined;
  /**
   * Upper folders marked opaque (real root-relative paths): their lower content is hidden. Read from the
   * upper layer's xattrs when not given.
   */
  opaque?: Set<string> | undefined;
}

/** Callbacks of an export. */
export interface ExportOptions {
  /** Told about members that cannot go into the tar (sockets, device nodes). */
  warn(message: string): void;
  /** The container's name (or id) for messages, when a container is exported. */
  container?: string | undefined;
}

/** What an export wrote. */
export interface ExportStats {
  entries: number;
  bytes: number;
}

const BLOCK = 512;
const CHUNK = 1 << 20;
/** The largest size the 11-digit octal field holds; larger files get a PAX size record. */
const MAX_OCTAL_SIZE = 0o77777777777;
/** The largest id the 7-digit octal field holds; larger ids get a PAX uid/gid record. */
const MAX_OCTAL_ID = 0o7777777;

/** Writes `value` as zero-padded octal of `width - 1` digits plus a NUL. */
function octal(buf: Buffer, off: number, width: number, value: number): void {
  buf.write(value.toString(8).padStart(width - 1, "0") + "\0", off, width, "latin1");
}

/** One PAX record, `LEN key=value\n`, whose length counts itself; key and value are byte strings. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = body.length;
  let len = bodyLen + String(bodyLen).length;
  if (String(len).length + bodyLen !== len) len = bodyLen + String(len).length;
  return `${len}${body}`;
}

/** A member to write: the header fields burrow records. Names are byte strings (see byte-path.ts). */
export interface TarMember {
  name: string;
  type: "0" | "1" | "2" | "5" | "6";
  mode: number;
  size: number;
  mtime: number;
  linkname?: string | undefined;
  /** More PAX records (GNU sparse), as key/value byte strings. */
  extra?: Array<[string, string]> | undefined;
  /** The owner to record (default root: everything in the store belongs to the user, root inside). */
  uid?: number | undefined;
  gid?: number | undefined;
}

/** A plain ustar header; the name and link must already fit (ASCII, at most 100 bytes). */
function ustarHeader(m: TarMember, name: string, linkname: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  octal(h, 100, 8, m.mode & 0o7777);
  const uid = m.uid ?? 0;
  const gid = m.gid ?? 0;
  octal(h, 108, 8, uid <= MAX_OCTAL_ID ? uid : 0);
  octal(h, 116, 8, gid <= MAX_OCTAL_ID ? gid : 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, Math.max(0, Math.floor(m.mtime)));
  h.write("        ", 148, 8, "latin1");
  h.write(type, 156, 1, "latin1");
  h.write(linkname, 157, 100, "utf8");
  h.write("ustar\0", 257, 6, "latin1");
  h.write("00", 263, 2, "latin1");
  if (uid === 0) h.write("root", 265, 32, "latin1");
  if (gid === 0) h.write("root", 297, 32, "latin1");
  octal(h, 329, 8, 0);
  octal(h, 337, 8, 0);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
  return h;
}

/** Whether a string fits a ustar field as it is (ASCII, short enough). */
function fits(s: string, max: number): boolean {
  return s.length <= max && /^[\x20-\x7e]*$/.test(s);
}

/** The header block(s) of a member: a PAX header first when the name, link or size do not fit ustar. */
export function memberHeader(m: TarMember): Buffer {
  const link = m.linkname ?? "";
  const records: string[] = [];
  // PAX values are UTF-8 unless the header says `hdrcharset=BINARY`: names that are not UTF-8 go as raw bytes.
  const binary = !isUtf8(Buffer.from(m.name + link, "latin1"));
  if (binary) records.push(paxRecord("hdrcharset", "BINARY"));
  if (!fits(m.name, 100)) records.push(paxRecord("path", m.name));
  if (!fits(link, 100)) records.push(paxRecord("linkpath", link));
  if (m.size > MAX_OCTAL_SIZE) records.push(paxRecord("size", String(m.size)));
  if ((m.uid ?? 0) > MAX_OCTAL_ID) records.push(paxRecord("uid", String(m.uid)));
  if ((m.gid ?? 0) > MAX_OCTAL_ID) records.push(paxRecord("gid", String(m.gid)));
  for (const [k, v] of m.extra ?? []) records.push(paxRecord(k, v));
  const main = ustarHeader(
    m,
    fits(m.name, 100) ? m.name : asciiStub(m.name),
    fits(link, 100) ? link : asciiStub(link),
    m.size > MAX_OCTAL_SIZE ? 0 : m.size,
    m.type,
  );
  if (records.length === 0) return main;
  const body = Buffer.from(records.join(""), "latin1");
  const pax = ustarHeader(
    { name: "", type: "0", mode: 0o644, size: body.length, mtime: m.mtime },
    asciiStub(`PaxHeaders/${m.name}`),
    "",
    body.length,
    "x",
  );
  return Buffer.concat([pax, body, Buffer.alloc(padding(body.length)), main]);
}

/** A printable ASCII stand-in of at most 100 bytes for a name carried by a PAX record. */
function asciiStub(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "_").slice(-100);
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/**
 * The upper folders overlay marks opaque (`user.overlay.opaque` or `trusted.overlay.opaque` = y).
 * Undefined when tar cannot read them.
 */
export async function readOpaqueDirs(upper: string): Promise<Set<string> | undefined> {
  return Promise.resolve(readOpaqueDirsSync(upper));
}

/** Collects small buffers into large ones, so the output stream sees few writes. */
class Batch {
  private parts: Buffer[] = [];
  private size = 0;

  add(b: Buffer): Buffer | undefined {
    this.parts.push(b);
    this.size += b.length;
    return this.size >= CHUNK ? this.take() : undefined;
  }

  take(): Buffer | undefined {
    if (this.size === 0) return undefined;
    const out = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    return out;
  }
}

/**
 * Yields the tar stream of the merged tree: relative names (folders end in `/`), owner root, modes and
 * times as stored, symlinks as symlinks, hardlinks where two names share an inode, and the two zero
 * blocks that end an archive.
 */
export async function* rootfsTar(
  src: ExportSource,
  opts: ExportOptions,
  stats: ExportStats = { entries: 0, bytes: 0 },
): AsyncGenerator<Buffer> {
  const opaque =
    src.upper === undefined ? new Set<string>() : (src.opaque ?? (await readOpaqueDirs(src.upper)));
  const links = new Map<string, string>();
  const batch = new Batch();
  const skipped: string[] = [];
  // Names are byte strings (see byte-path.ts): kept as the bytes they are, and deep paths reachable.
  const lowerPaths = new RootPaths(src.lower);
  const upperPaths = src.upper === undefined ? undefined : new RootPaths(src.upper);

  function* emit(rel: string, abs: string | Buffer, st: fs.Stats): Generator<Buffer> {
    if (st.isDirectory()) {
      stats.entries++;
      yield* some(
        batch.add(
          memberHeader({ name: `${rel}/`, type: "5", mode: st.mode, size: 0, mtime: st.mtimeMs / 1000 }),
        ),
      );
      return;
    }
    const base = { name: rel, mode: st.mode, mtime: st.mtimeMs / 1000 };
    if (st.isSymbolicLink()) {
      stats.entries++;
      const linkname = fs.readlinkSync(abs, { encoding: "latin1" });
      yield* some(batch.add(memberHeader({ ...base, type: "2", size: 0, linkname })));
    } else if (st.isFIFO()) {
      stats.entries++;
      yield* some(batch.add(memberHeader({ ...base, type: "6", size: 0 })));
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? links.get(key) : undefined;
      stats.entries++;
      if (first !== undefined) {
        yield* some(batch.add(memberHeader({ ...base, type: "1", size: 0, linkname: first })));
        return;
      }
      if (st.nlink > 1) links.set(key, rel);
      yield* fileMember(rel, abs, st, base);
    } else {
      skipped.push(displayPath(rel));
    }
  }

  function* fileMember(
    rel: string,
    abs: string | Buffer,
    st: fs.Stats,
    base: { name: string; mode: number; mtime: number },
  ): Generator<Buffer> {
    const fd = withAccess(abs, 0o400, () =>
      fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW),
    );
    try {
      // A file with holes (fewer blocks than its size) is written sparse where its zero blocks allow.
      const regions = st.blocks * 512 < st.size ? dataRegions(fd, st.size) : undefined;
      if (regions !== undefined) {
        yield* sparseMember(rel, fd, st.size, regions, base);
        return;
      }
      yield* some(batch.add(memberHeader({ ...base, type: "0", size: st.size })));
      yield* copyRange(rel, fd, 0, st.size);
      yield* some(batch.add(Buffer.alloc(padding(st.size))));
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The bytes `[offset, offset + length)` of the file, zero-filled where it shrank meanwhile. */
  function* copyRange(rel: string, fd: number, offset: number, length: number): Generator<Buffer> {
    let left = length;
    let warned = false;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
      let n = fs.readSync(fd, buf, 0, buf.length, offset);
      if (n === 0) {
        // The file shrank while it was read (a run writing it): pad to the size the header announced.
        if (!warned) opts.warn(`${displayPath(rel)} changed while it was exported: its end is zero-filled`);
        warned = true;
        buf.fill(0);
        n = buf.length;
      }
      left -= n;
      offset += n;
      stats.bytes += n;
      yield* some(batch.add(buf.subarray(0, n)));
    }
  }

  /** A sparse file as GNU's PAX sparse format 1.0: the map, then the data regions only. */
  function* sparseMember(
    rel: string,
    fd: number,
    size: number,
    regions: number[],
    base: { name: string; mode: number; mtime: number },
  ): Generator<Buffer> {
    const mapText = [regions.length / 2, ...regions].map((n) => `${n}\n`).join("");
    const map = Buffer.alloc(mapText.length + padding(mapText.length));
    map.write(mapText, "latin1");
    let dataSize = 0;
    for (let i = 1; i < regions.length; i += 2) dataSize += regions[i]!;
    const i = rel.lastIndexOf("/");
    // As GNU tar names it: a reader that knows no sparse files extracts it aside, not as a wrong file.
    const stub = `${i < 0 ? "" : rel.slice(0, i + 1)}GNUSparseFile.0/${rel.slice(i + 1)}`;
    const extra: Array<[string, string]> = [
      ["GNU.sparse.major", "1"],
      ["GNU.sparse.minor", "0"],
      ["GNU.sparse.name", rel],
      ["GNU.sparse.realsize", String(size)],
    ];
    const total = map.length + dataSize;
    yield* some(batch.add(memberHeader({ ...base, name: stub, type: "0", size: total, extra })));
    yield* some(batch.add(map));
    for (let r = 0; r < regions.length; r += 2) yield* copyRange(rel, fd, regions[r]!, regions[r + 1]!);
    yield* some(batch.add(Buffer.alloc(padding(total))));
  }

  // Walks one folder of the merged view: the upper one wins over the lower one, names are the union.
  function* walk(rel: string, inLower: boolean, inUpper: boolean): Generator<Buffer> {
    const names = new Set<string>();
    if (inUpper) for (const n of listDirBytes(upperPaths!.sys(rel))) names.add(n);
    if (inLower) for (const n of listDirBytes(lowerPaths.sys(rel))) names.add(n);
    for (const name of [...names].sort()) {
      const r = rel === "" ? name : `${rel}/${name}`;
      const u = inUpper ? upperPaths!.sys(r) : undefined;
      const ust = u === undefined ? undefined : fs.lstatSync(u, { throwIfNoEntry: false });
      const l = inLower ? lowerPaths.sys(r) : undefined;
      const lst = l === undefined ? undefined : fs.lstatSync(l, { throwIfNoEntry: false });
      if (ust !== undefined) {
        if (src.upper !== undefined && isWhiteout(ust)) continue;
        yield* emit(r, u!, ust);
        if (ust.isDirectory()) {
          const seesLower = lst?.isDirectory() === true && !(opaque?.has(r) ?? false);
          yield* walk(r, seesLower, true);
        }
      } else if (lst !== undefined) {
        yield* emit(r, l!, lst);
        if (lst.isDirectory()) yield* walk(r, true, false);
      }
    }
  }

  try {
    yield* walk("", true, upperPaths !== undefined);
  } finally {
    lowerPaths.invalidate();
    upperPaths?.invalidate();
  }
  // Told once the walk is through (a walk that fails has its own one line to say).
  if (opaque === undefined) {
    opts.warn(
      "cannot read the container's opaque-folder marks (GNU tar is needed for xattrs): a folder removed and made again in the container may show the image's old content",
    );
  }
  yield* some(batch.add(Buffer.alloc(2 * BLOCK)));
  yield* some(batch.take());
  if (skipped.length > 0) {
    const shown = skipped.slice(0, 5).join(", ") + (skipped.length > 5 ? ", ..." : "");
    opts.warn(`left out ${skipped.length} device node(s) or socket(s) a tar cannot usefully hold: ${shown}`);
  }
}

/** Zero-scan granularity for sparse files: the usual file system block. */
const SPARSE_BLOCK = 4096;

/**
 * The data regions (`[offset, length, ...]`) of a file of `size` bytes: its runs of blocks that are not
 * all zero (Node has no SEEK_DATA, so holes are found by reading, as GNU tar does without it).
 * Undefined when the file has no zero block to leave out.
 */
function dataRegions(fd: number, size: number): number[] | undefined {
  const regions: number[] = [];
  const buf = Buffer.allocUnsafe(CHUNK);
  const zero = Buffer.alloc(SPARSE_BLOCK);
  let start = -1;
  let holes = false;
  for (let pos = 0; pos < size;) {
    const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos);
    if (n === 0) break;
    for (let off = 0; off < n; off += SPARSE_BLOCK) {
      const len = Math.min(SPARSE_BLOCK, n - off);
      const isZero = buf.compare(zero, 0, len, off, off + len) === 0;
      if (!isZero && start < 0) start = pos + off;
      if (isZero && start >= 0) {
        regions.push(start, pos + off - start);
        start = -1;
      }
      if (isZero) holes = true;
    }
    pos += n;
  }
  if (start >= 0) regions.push(start, size - start);
  return holes ? regions : undefined;
}

function* some(b: Buffer | undefined): Generator<Buffer> {
  if (b !== undefined) yield b;
}

/**
 * Writes the tar of `src` to `output`: a file, written to a temporary sibling and renamed into place so
 * that a failed export leaves no partial file (an existing file is replaced, as docker does), or the
 * stream given for `-`.
 */
export async function exportRootfs(
  src: ExportSource,
  output: string | Writable,
  opts: ExportOptions,
): Promise<ExportStats> {
  const stats: ExportStats = { entries: 0, bytes: 0 };
  if (typeof output !== "string") {
    try {
      await pipeline(Readable.from(rootfsTar(src, opts, stats)), output, { end: false });
    } catch (err) {
      throw unreadableError(src, opts, err) ?? err;
    }
    return stats;
  }
  const target = path.resolve(output);
  if (fs.statSync(target, { throwIfNoEntry: false })?.isDirectory()) {
    throw new InvalidArgumentError(`${output} is a folder: give the name of the tar file to write`);
  }
  const tmp = tempSibling(target, "part");
  // A file handle of our own, written chunk by chunk (each write yields, so ^C is handled): a WriteStream
  // given the descriptor would close it asynchronously when destroyed on an error, after our own close,
  // and so close whatever file reused the number meanwhile.
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, "wx", 0o666);
  } catch (err) {
    throw new InvalidArgumentError(`cannot write ${output}: ${errnoText(err)}`, { cause: err });
  }
  const removeTmp = (): void => fs.rmSync(tmp, { force: true });
  const onSignal = (sig: NodeJS.Signals): void => {
    removeTmp();
    process.kill(process.pid, sig);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    for await (const chunk of rootfsTar(src, opts, stats)) await fh.write(chunk);
    await fh.sync();
    await fh.close();
    fh = undefined;
    fs.renameSync(tmp, target);
    return stats;
  } catch (err) {
    await fh?.close().catch(() => undefined);
    removeTmp();
    const code = (err as NodeJS.ErrnoException).code;
    const unreadable = unreadableError(src, opts, err);
    if (unreadable !== undefined) throw unreadable;
    if (typeof code === "string")
      throw new StoreError(`export to ${output} failed: ${errnoText(err)}`, { cause: err });
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** The one line for a member the container made unreadable (a `chmod 000` folder), else undefined. */
function unreadableError(src: ExportSource, opts: ExportOptions, err: unknown): StoreError | undefined {
  const e = err as NodeJS.ErrnoException;
  const inside = e.code === "EACCES" ? insidePath(src, e.path) : undefined;
  if (inside === undefined) return undefined;
  const fix =
    opts.container !== undefined
      ? `make it readable inside the container (burrow run ${opts.container} chmod -R u+rwX ${path.posix.dirname(inside)}) and retry`
      : "make it readable and retry";
  return new StoreError(
    `cannot export ${opts.container ?? src.lower}: ${inside} in it cannot be read (permission denied): ${fix}`,
    { cause: err },
  );
}

/** Where a host path under the exported tree is, as the container sees it ("/x/f"); undefined if elsewhere. */
function insidePath(src: ExportSource, p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  for (const root of [src.upper, src.lower]) {
    if (root !== undefined && p.startsWith(`${root}/`)) return p.slice(root.length);
  }
  return undefined;
}

/** A system error's reason without Node's syscall and path decorations ("no such file or directory"). */
function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const m = /^[A-Z]+: ([^,]+),/.exec(e.message ?? "");
  return m ? m[1]! : (e.message ?? String(err));
}
