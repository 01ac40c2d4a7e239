// A streaming, allocation-light tar reader: ustar, GNU (long names, base-256 numbers) and PAX headers.

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
  /** The member name, as written (not yet normalised). */
  path: string;
  /** The link target of a hardlink or symlink. */
  linkpath: string;
  /** Bytes of data that follow the header and are passed to `data`. */
  size: number;
  /** Permission bits including setuid/setgid/sticky. */
  mode: number;
  /** Modification time in seconds since the epoch (may be fractional from PAX). */
  mtime: number;
}

/** Receives the members of a tar stream, synchronously and in order. */
export interface TarHandler {
  /** A member starts; the object is reused for the next member, so copy what must outlive the call. */
  entry(entry: TarEntry): void;
  /** A slice `buf[start, end)` of the current member's data. */
  data(buf: Buffer, start: number, end: number): void;
  /** All of the current member's data has been passed. */
  entryEnd(): void;
}

const BLOCK = 512;
/** PAX and GNU long-name records larger than this are refused rather than buffered. */
const MAX_META = 1024 * 1024;
const SPACE_SUM = 8 * 0x20;

const enum State {
  Header,
  Data,
  Meta,
  Padding,
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

/** Reads a NUL-terminated (or full-width) string field as UTF-8. */
function cString(buf: Buffer, off: number, len: number): string {
  let end = buf.indexOf(0, off);
  if (end < 0 || end > off + len) end = off + len;
  return buf.toString("utf8", off, end);
}

/** Parses a PAX time value (decimal seconds, maybe fractional). */
function paxTime(value: string): number {
  const t = Number(value);
  if (value === "" || !Number.isFinite(t)) throw new TarFormatError(`invalid PAX mtime "${value}"`);
  return t;
}

/** Parses PAX extended header records (`LEN key=value\n`) into `into`; an empty value deletes the key. */
export function parsePaxRecords(buf: Buffer, into: Map<string, string>): void {
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
    const key = buf.toString("utf8", i + 1, eq);
    const value = buf.toString("utf8", eq + 1, pos + len - 1);
    if (value === "") into.delete(key);
    else into.set(key, value);
    pos += len;
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
  private readonly current: TarEntry = { type: "0", path: "", linkpath: "", size: 0, mode: 0, mtime: 0 };
  private sawAny = false;
  /** Total bytes consumed so far (for error messages). */
  offset = 0;

  constructor(private readonly handler: TarHandler) {}

  /** The name of the member being read, for error messages ("" before the first one). */
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
          const n = Math.min(this.dataLeft, len - pos);
          this.handler.data(chunk, pos, pos + n);
          this.dataLeft -= n;
          pos += n;
          this.offset += n;
          if (this.dataLeft === 0) {
            this.handler.entryEnd();
            this.state = this.padLeft > 0 ? State.Padding : State.Header;
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
    if (this.pax.size > 0) {
      const p = this.pax.get("path");
      if (p !== undefined) path = p;
      const l = this.pax.get("linkpath");
      if (l !== undefined) linkpath = l;
      const s = this.pax.get("size");
      if (s !== undefined) {
        if (!/^\d+$/.test(s) || Number(s) > Number.MAX_SAFE_INTEGER) {
          throw new TarFormatError(`invalid PAX size "${s}"`);
        }
        size = Number(s);
      }
      const m = this.pax.get("mtime");
      if (m !== undefined) e.mtime = paxTime(m);
    }
    e.path = path;
    e.linkpath = linkpath;
    this.longPath = undefined;
    this.longLink = undefined;
    this.pax.clear();

    if (headerOnly(typeByte)) size = 0;
    e.size = size;
    this.dataLeft = size;
    this.padLeft = (BLOCK - (size % BLOCK)) % BLOCK;
    this.handler.entry(e);
    if (size === 0) {
      this.handler.entryEnd();
      this.state = this.padLeft > 0 ? State.Padding : State.Header;
    } else {
      this.state = State.Data;
    }
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
