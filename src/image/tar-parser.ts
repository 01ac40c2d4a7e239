// A streaming, allocation-light tar reader: ustar, GNU (long names, base-256 numbers, sparse files) and PAX
// headers (GNU sparse formats 0.0, 0.1 and 1.0, SCHILY xattrs).
//
// Names are bytes: every name and PAX value is handed over as a "byte string", one character per byte
// (latin1 decoding), so that names which are not valid UTF-8 stay distinct and are written back as the
// same bytes (see byte-path.ts). PAX values are UTF-8 per POSIX, or raw with `hdrcharset=BINARY`: either
// way their bytes are the name's bytes.

/** A tar stream that is truncated, has a bad checksum or a malformed field. */
export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TarFormatError";
  }
}

/** One archive member as seen after applying GNU long names and PAX records. */
export interface TarEntry {
  /** The type flag as a character: "0" regular, "1" hardlink, "2" symlink, "5" directory, ... ("\0" is given as "0"). */
  type: string;
  /** The member name as a byte string (one character per byte), as written (not yet normalised). */
  path: string;
  /** The link target of a hardlink or symlink, as a byte string. */
  linkpath: string;
  /** The file's size: the bytes passed to `data`, or for a sparse member its real size (holes included). */
  size: number;
  /**
   * For a sparse member (GNU type 'S', PAX GNU.sparse 0.0, 0.1, 1.0): its data regions as flat
   * `[offset, length, ...]` pairs in file order; `data` is given each region's bytes with their offsets,
   * and everything else up to `size` is a hole. Undefined for other members.
   */
  sparse: number[] | undefined;
  /** Extended attributes from PAX `SCHILY.xattr.NAME` records (name and value as byte strings), if any. */
  xattrs: Map<string, string> | undefined;
  /** Permission bits including setuid/setgid/sticky. */
  mode: number;
  /** Modification time in seconds since the epoch (may be fractional from PAX). */
  mtime: number;
  /** The owner's numeric ids (PAX `uid`/`gid` when given, else the header fields). */
  uid: number;
  gid: number;
}

/** Receives the members of a tar stream, synchronously and in order. */
export interface TarHandler {
  /** A member starts; the object is reused for the next member, so copy what must outlive the call. */
  entry(entry: TarEntry): void;
  /** A slice `buf[start, end)` of the current member's data, which goes at `offset` in the file. */
  data(buf: Buffer, start: number, end: number, offset: number): void;
  /** All of the current member's data has been passed. */
  entryEnd(): void;
}

const BLOCK = 512;
/** PAX and GNU long-name records larger than this are refused rather than buffered. */
const MAX_META = 1024 * 1024;
const SPACE_SUM = 8 * 0x20;
/** Sparse maps with more regions than this are refused (each costs two numbers of memory). */
const MAX_SPARSE_REGIONS = 1 << 20;

const enum State {
  Header,
  Data,
  Meta,
  Padding,
  /** Old GNU sparse extension headers after an 'S' header. */
  SparseExt,
  /** The GNU 1.0 sparse map at the start of a member's data. */
  SparseMap,
  Done,
}

/** Member types that never carry data, whatever their size field says (as Go's archive/tar does). */
function headerOnly(type: number): boolean {
  // '1' hardlink, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo
  return type >= 0x31 && type <= 0x36;
}

/** Parses a numeric header field: octal text, or GNU base-256 when the high bit of the first byte is set. */
export function parseTarNumber(buf: Buffer, off: number, len: number, field: string): number {
  const first = buf[off]!;
  if (first & 0x80) {
    if (first === 0xff) throw new TarFormatError(`negative base-256 ${field}`);
    let value = first & 0x7f;
    for (let i = 1; i < len; i++) {
      value = value * 256 + buf[off + i]!;
      if (value > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`${field} too large`);
    }
    return value;
  }
  let i = off;
  const end = off + len;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0)) i++;
  let value = 0;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) throw new TarFormatError(`invalid octal ${field}`);
    value = value * 8 + (c - 0x30);
  }
  return value;
}

/** Reads a NUL-terminated (or full-width) string field as a byte string. */
function cString(buf: Buffer, off: number, len: number): string {
  let end = buf.indexOf(0, off);
  if (end < 0 || end > off + len) end = off + len;
  return buf.toString("latin1", off, end);
}

/** Parses a decimal number of a sparse map. */
function sparseNumber(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > Number.MAX_SAFE_INTEGER) {
    throw new TarFormatError(`invalid sparse map number "${value}"`);
  }
  return Number(value);
}

/** Parses a PAX time value (decimal seconds, maybe fractional). */
function paxTime(value: string): number {
  const t = Number(value);
  if (value === "" || !Number.isFinite(t)) throw new TarFormatError(`invalid PAX mtime "${value}"`);
  return t;
}

/** A header's uid or gid field; one that is not a number reads as 0 (flatten never used them). */
function headerId(buf: Buffer, off: number): number {
  try {
    return parseTarNumber(buf, off, 8, "id");
  } catch {
    return 0;
  }
}

/** A PAX uid or gid record (decimal), or `fallback` when there is none or it is not a number. */
function paxId(value: string | undefined, fallback: number): number {
  if (value === undefined || !/^\d{1,10}$/.test(value)) return fallback;
  return Number(value);
}

/** The key under which the repeated GNU sparse 0.0 offset/numbytes records are gathered (as 0.1's map). */
const SPARSE_MAP = "GNU.sparse.map";

/**
 * Parses PAX extended header records (`LEN key=value\n`) into `into`; an empty value deletes the key. Keys
 * and values are byte strings. The repeated `GNU.sparse.offset`/`GNU.sparse.numbytes` records of GNU's
 * sparse format 0.0 are gathered, in order, into `GNU.sparse.map` as format 0.1 writes it.
 */
export function parsePaxRecords(buf: Buffer, into: Map<string, string>): void {
  const sparse: string[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) break; // some writers pad the record block with NULs
    let len = 0;
    let i = pos;
    while (i < buf.length && buf[i]! >= 0x30 && buf[i]! <= 0x39) len = len * 10 + (buf[i++]! - 0x30);
    if (
      i === pos ||
      buf[i] !== 0x20 ||
      len <= i - pos + 1 ||
      pos + len > buf.length ||
      buf[pos + len - 1] !== 0x0a
    ) {
      throw new TarFormatError("malformed PAX record");
    }
    const eq = buf.indexOf(0x3d, i + 1);
    if (eq < 0 || eq >= pos + len - 1) throw new TarFormatError("malformed PAX record");
    const key = buf.toString("latin1", i + 1, eq);
    const value = buf.toString("latin1", eq + 1, pos + len - 1);
    if (key === "GNU.sparse.offset" || key === "GNU.sparse.numbytes") {
      // Offsets and sizes alternate, an offset first.
      if ((key === "GNU.sparse.offset") !== (sparse.length % 2 === 0) || value.includes(",")) {
        throw new TarFormatError("malformed GNU sparse 0.0 map");
      }
      if (sparse.length >= 2 * MAX_SPARSE_REGIONS) throw new TarFormatError("sparse map too large");
      sparse.push(value);
    } else if (value === "") into.delete(key);
    else into.set(key, value);
    pos += len;
  }
  if (sparse.length > 0) {
    if (sparse.length % 2 !== 0) throw new TarFormatError("malformed GNU sparse 0.0 map");
    into.set(SPARSE_MAP, sparse.join(","));
  }
}

/** The PAX key prefix of extended attributes (GNU tar, libarchive, Go, docker). */
const XATTR_PREFIX = "SCHILY.xattr.";
/** The longest GNU 1.0 sparse map text read before the map is called malformed. */
const MAX_SPARSE_MAP_TEXT = 64 * 1024 * 1024;

/** Checks a sparse map against the member: regions in order, not overlapping, inside the file, summing to the data. */
function checkSparse(regions: number[], realSize: number, dataSize: number): void {
  let end = 0;
  let sum = 0;
  for (let i = 0; i < regions.length; i += 2) {
    const off = regions[i]!;
    const len = regions[i + 1]!;
    if (off < end || off + len > realSize) {
      throw new TarFormatError("sparse map regions overlap or lie past the end of the file");
    }
    end = off + len;
    sum += len;
  }
  if (sum !== dataSize) {
    throw new TarFormatError(`sparse map describes ${sum} bytes of data but the member holds ${dataSize}`);
  }
}

/** Incremental tar parser: feed it chunks with `write`, then call `end`; it calls the handler synchronously. */
export class TarParser {
  private state = State.Header;
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private dataLeft = 0;
  private padLeft = 0;
  private metaType = 0;
  private meta: Buffer = Buffer.alloc(0);
  private metaFill = 0;
  private longPath: string | undefined;
  private longLink: string | undefined;
  private readonly pax = new Map<string, string>();
  private readonly globalPax = new Map<string, string>();
  private readonly current: TarEntry = {
    type: "0",
    path: "",
    linkpath: "",
    size: 0,
    mode: 0,
    mtime: 0,
    uid: 0,
    gid: 0,
    sparse: undefined,
    xattrs: undefined,
  };
  /** Where the next data byte goes in the file. */
  private filePos = 0;
  /** Bytes left in the current sparse region (sparse members only). */
  private regionLeft = 0;
  /** Index in `current.sparse` of the current region's offset. */
  private regionIdx = 0;
  /** A sparse map being read (old GNU extension blocks or the 1.0 map text): what is known so far. */
  private mapNumbers: number[] = [];
  private mapRest = "";
  private mapBytes = 0;
  private sawAny = false;
  /** Total bytes consumed so far (for error messages). */
  offset = 0;

  constructor(private readonly handler: TarHandler) {}

  /** The name of the member being read, as a byte string, for error messages ("" before the first one). */
  get currentPath(): string {
    return this.current.path;
  }

  /** Consumes the next chunk of the (decompressed) stream. */
  write(chunk: Buffer): void {
    const len = chunk.length;
    if (len > 0) this.sawAny = true;
    let pos = 0;
    while (pos < len) {
      switch (this.state) {
        case State.Header: {
          if (this.headerFill === 0 && len - pos >= BLOCK) {
            this.offset += BLOCK;
            this.onHeader(chunk, pos);
            pos += BLOCK;
          } else {
            const n = Math.min(BLOCK - this.headerFill, len - pos);
            chunk.copy(this.header, this.headerFill, pos, pos + n);
            this.headerFill += n;
            pos += n;
            this.offset += n;
            if (this.headerFill === BLOCK) {
              this.headerFill = 0;
              this.onHeader(this.header, 0);
            }
          }
          break;
        }
        case State.Data: {
          let n = Math.min(this.dataLeft, len - pos);
          const sparse = this.current.sparse;
          if (sparse !== undefined && n > this.regionLeft) n = this.regionLeft;
          this.handler.data(chunk, pos, pos + n, this.filePos);
          this.dataLeft -= n;
          this.filePos += n;
          pos += n;
          this.offset += n;
          if (this.dataLeft === 0) {
            this.handler.entryEnd();
            this.state = this.padLeft > 0 ? State.Padding : State.Header;
          } else if (sparse !== undefined) {
            this.regionLeft -= n;
            if (this.regionLeft === 0) this.nextRegion();
          }
          break;
        }
        case State.Meta: {
          const n = Math.min(this.dataLeft, len - pos);
          chunk.copy(this.meta, this.metaFill, pos, pos + n);
          this.metaFill += n;
          this.dataLeft -= n;
          pos += n;
          this.offset += n;
          if (this.dataLeft === 0) {
            this.onMeta();
            this.state = this.padLeft > 0 ? State.Padding : State.Header;
          }
          break;
        }
        case State.Padding: {
          const n = Math.min(this.padLeft, len - pos);
          this.padLeft -= n;
          pos += n;
          this.offset += n;
          if (this.padLeft === 0) this.state = State.Header;
          break;
        }
        case State.SparseExt:
        case State.SparseMap: {
          // Both come in whole blocks: the extension headers, and the 1.0 map padded to a block.
          const n = Math.min(BLOCK - this.headerFill, len - pos);
          chunk.copy(this.header, this.headerFill, pos, pos + n);
          this.headerFill += n;
          pos += n;
          this.offset += n;
          if (this.headerFill === BLOCK) {
            this.headerFill = 0;
            if (this.state === State.SparseExt) this.onSparseExt(this.header);
            else this.onSparseMapBlock(this.header);
          }
          break;
        }
        case State.Done:
          // Whatever follows the end-of-archive marker (more zero blocks, or padding to a record size) is ignored.
          this.offset += len - pos;
          return;
      }
    }
  }

  /** Declares the end of the stream; throws if it stops inside a member or a header. */
  end(): void {
    if (this.state === State.Done) return;
    if (!this.sawAny) return; // an empty blob is an empty layer
    // Ending on a member boundary without the end-of-archive marker is accepted, as GNU tar and docker do:
    // some image builders (umoci) omit it, and blobs are already checked against their digests.
    if (this.state === State.Header && this.headerFill === 0) return;
    throw new TarFormatError(`truncated stream at byte ${this.offset}`);
  }

  private onHeader(buf: Buffer, off: number): void {
    let sum = 0;
    for (let i = off; i < off + BLOCK; i++) sum += buf[i]!;
    if (sum === 0) {
      // A zero block ends the archive (the second one is optional in practice).
      this.state = State.Done;
      return;
    }
    let fieldSum = 0;
    let signedFieldSum = 0;
    let signedSum = 0;
    for (let i = off; i < off + BLOCK; i++) {
      const b = buf[i]!;
      signedSum += b > 127 ? b - 256 : b;
    }
    for (let i = off + 148; i < off + 156; i++) {
      const b = buf[i]!;
      fieldSum += b;
      signedFieldSum += b > 127 ? b - 256 : b;
    }
    const stored = parseTarNumber(buf, off + 148, 8, "checksum");
    if (stored !== sum - fieldSum + SPACE_SUM && stored !== signedSum - signedFieldSum + SPACE_SUM) {
      throw new TarFormatError(`bad header checksum at byte ${this.offset - BLOCK}`);
    }

    const typeByte = buf[off + 156]!;
    let size = parseTarNumber(buf, off + 124, 12, "size");

    // Meta members: GNU long name/link, PAX per-entry and global headers.
    if (typeByte === 0x4c || typeByte === 0x4b || typeByte === 0x78 || typeByte === 0x67) {
      if (size > MAX_META) throw new TarFormatError(`extended header of ${size} bytes is too large`);
      this.metaType = typeByte;
      if (this.meta.length < size) this.meta = Buffer.alloc(Math.max(size, 4096));
      this.metaFill = 0;
      this.dataLeft = size;
      this.padLeft = (BLOCK - (size % BLOCK)) % BLOCK;
      if (size > 0) {
        this.state = State.Meta;
      } else {
        this.onMeta();
        this.state = State.Header;
      }
      return;
    }

    const e = this.current;
    e.type = typeByte === 0 ? "0" : String.fromCharCode(typeByte);
    e.mode = parseTarNumber(buf, off + 100, 8, "mode") & 0o7777;
    e.mtime = parseTarNumber(buf, off + 136, 12, "mtime");
    e.uid = headerId(buf, off + 108);
    e.gid = headerId(buf, off + 116);
    e.sparse = undefined;
    e.xattrs = undefined;

    let path: string;
    if (this.longPath !== undefined) {
      path = this.longPath;
    } else {
      path = cString(buf, off, 100);
      // POSIX ustar ("ustar\0") splits long names into prefix + name; GNU ("ustar  ") uses that area otherwise.
      if (buf[off + 257] === 0x75 && buf[off + 262] === 0 && buf[off + 345] !== 0) {
        path = cString(buf, off + 345, 155) + "/" + path;
      }
    }
    let linkpath = this.longLink ?? cString(buf, off + 157, 100);

    const globalMtime = this.globalPax.get("mtime");
    if (globalMtime !== undefined) e.mtime = paxTime(globalMtime);
    let realSize = -1;
    let sparseMap1 = false;
    if (this.pax.size > 0) {
      const pax = this.pax;
      const p = pax.get("path");
      if (p !== undefined) path = p;
      const l = pax.get("linkpath");
      if (l !== undefined) linkpath = l;
      const s = pax.get("size");
      if (s !== undefined) {
        if (!/^\d+$/.test(s) || Number(s) > Number.MAX_SAFE_INTEGER) {
          throw new TarFormatError(`invalid PAX size "${s}"`);
        }
        size = Number(s);
      }
      const m = pax.get("mtime");
      if (m !== undefined) e.mtime = paxTime(m);
      e.uid = paxId(pax.get("uid"), e.uid);
      e.gid = paxId(pax.get("gid"), e.gid);
      for (const [k, v] of pax) {
        if (k.startsWith(XATTR_PREFIX) && k.length > XATTR_PREFIX.length) {
          (e.xattrs ??= new Map()).set(k.slice(XATTR_PREFIX.length), v);
        }
      }
      const major = pax.get("GNU.sparse.major");
      const minor = pax.get("GNU.sparse.minor");
      const map = pax.get(SPARSE_MAP);
      if (major !== undefined || minor !== undefined || map !== undefined) {
        // GNU's PAX sparse formats: 0.0 and 0.1 carry the map in records, 1.0 at the start of the data.
        const version = major === undefined && minor === undefined ? "0.1" : `${major}.${minor}`;
        if (version === "1.0") sparseMap1 = true;
        else if (version === "0.0" || version === "0.1") {
          e.sparse = map === undefined || map === "" ? [] : map.split(",").map(sparseNumber);
          if (e.sparse.length % 2 !== 0) throw new TarFormatError("malformed GNU sparse map");
          if (e.sparse.length > 2 * MAX_SPARSE_REGIONS) throw new TarFormatError("sparse map too large");
        } else {
          throw new TarFormatError(`GNU sparse format ${version} is not supported`);
        }
        const real = pax.get("GNU.sparse.realsize") ?? pax.get("GNU.sparse.size");
        if (real === undefined) throw new TarFormatError("GNU sparse member without its real size");
        realSize = sparseNumber(real);
        const name = pax.get("GNU.sparse.name");
        if (name !== undefined) path = name;
      }
    }
    e.path = path;
    e.linkpath = linkpath;
    this.longPath = undefined;
    this.longLink = undefined;
    this.pax.clear();

    if (headerOnly(typeByte)) size = 0;
    this.dataLeft = size;
    this.padLeft = (BLOCK - (size % BLOCK)) % BLOCK;
    if (typeByte === 0x53) {
      // Old GNU sparse ('S'): four regions in the header, more in extension blocks when flagged.
      e.type = "0";
      e.sparse = [];
      this.addOldSparse(buf, off + 386, 4);
      realSize = parseTarNumber(buf, off + 483, 12, "sparse real size");
      e.size = realSize;
      if (buf[off + 482] !== 0) {
        this.state = State.SparseExt;
        return;
      }
    } else if (sparseMap1) {
      e.size = realSize;
      e.type = "0";
      this.mapNumbers = [];
      this.mapRest = "";
      this.mapBytes = 0;
      this.state = State.SparseMap;
      if (size < BLOCK) throw new TarFormatError("GNU sparse 1.0 member too short for its map");
      return;
    } else if (e.sparse !== undefined) {
      e.type = "0";
      e.size = realSize;
    } else {
      e.size = size;
    }
    this.startData();
  }

  /** Appends up to `count` old-GNU sparse entries (12-byte offset and size each) at `buf[off]`. */
  private addOldSparse(buf: Buffer, off: number, count: number): void {
    const regions = this.current.sparse!;
    for (let i = 0; i < count; i++) {
      const at = off + i * 24;
      if (buf[at] === 0) break;
      if (regions.length >= 2 * MAX_SPARSE_REGIONS) throw new TarFormatError("sparse map too large");
      regions.push(
        parseTarNumber(buf, at, 12, "sparse offset"),
        parseTarNumber(buf, at + 12, 12, "sparse size"),
      );
    }
  }

  /** One old GNU sparse extension block: 21 entries, then the flag that says whether another follows. */
  private onSparseExt(block: Buffer): void {
    this.addOldSparse(block, 0, 21);
    if (block[504] === 0) this.startData();
  }

  /** One block of a GNU 1.0 sparse map: decimal numbers, one a line (the count, then offset/size pairs). */
  private onSparseMapBlock(block: Buffer): void {
    if (this.dataLeft < BLOCK) throw new TarFormatError("GNU sparse 1.0 map runs past the member's data");
    this.dataLeft -= BLOCK;
    this.mapBytes += BLOCK;
    if (this.mapBytes > MAX_SPARSE_MAP_TEXT) throw new TarFormatError("sparse map too large");
    const lines = (this.mapRest + block.toString("latin1")).split("\n");
    this.mapRest = lines.pop()!;
    const nums = this.mapNumbers;
    for (const line of lines) {
      nums.push(sparseNumber(line));
      if (nums[0]! > MAX_SPARSE_REGIONS) throw new TarFormatError("sparse map too large");
      if (nums.length === 1 + 2 * nums[0]!) {
        this.current.sparse = nums.slice(1);
        this.startData();
        return;
      }
    }
    if (this.mapRest.length > 0 && !/^\d+$/.test(this.mapRest)) {
      throw new TarFormatError("malformed GNU sparse 1.0 map");
    }
  }

  /** Hands the member over and starts its data (after its sparse map, for a sparse member). */
  private startData(): void {
    const e = this.current;
    const size = this.dataLeft;
    if (e.sparse !== undefined) {
      checkSparse(e.sparse, e.size, size);
      this.regionIdx = -2;
      if (size > 0) this.nextRegion();
    } else {
      this.filePos = 0;
    }
    this.handler.entry(e);
    if (size === 0) {
      this.handler.entryEnd();
      this.state = this.padLeft > 0 ? State.Padding : State.Header;
    } else {
      this.state = State.Data;
    }
  }

  /** Moves to the next sparse region that holds data. */
  private nextRegion(): void {
    const regions = this.current.sparse!;
    do this.regionIdx += 2;
    while (regions[this.regionIdx + 1] === 0);
    this.filePos = regions[this.regionIdx]!;
    this.regionLeft = regions[this.regionIdx + 1]!;
  }

  private onMeta(): void {
    const body = this.meta.subarray(0, this.metaFill);
    switch (this.metaType) {
      case 0x4c: // 'L' GNU long name
        this.longPath = cString(body, 0, body.length);
        break;
      case 0x4b: // 'K' GNU long link name
        this.longLink = cString(body, 0, body.length);
        break;
      case 0x78: // 'x' PAX, next member only
        parsePaxRecords(body, this.pax);
        break;
      case 0x67: // 'g' PAX global: only mtime is honoured for later members (a global path would be meaningless)
        parsePaxRecords(body, this.globalPax);
        break;
    }
  }
}
