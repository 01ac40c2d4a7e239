// A raw ustar writer for test layers: it writes exactly what it is given, hostile paths and links included.

/** The kinds of tar entries the writer can make. */
export type TarEntryType = "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";

/** One tar entry. Paths and link names are written byte for byte as given (no normalising). */
export interface TarEntry {
  path: string;
  type: TarEntryType;
  /** File content (type file only). */
  content?: string | Buffer;
  /** Permission bits (with setuid/setgid/sticky); defaults: 0644 files, 0755 dirs, 0777 symlinks. */
  mode?: number;
  /** Link target for symlink and hardlink. */
  linkname?: string;
  /** Seconds since the epoch or a Date; defaults to a fixed time so that layers are reproducible. */
  mtime?: number | Date;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extra PAX records written in an `x` header before the entry (e.g. `SCHILY.xattr.user.x`). */
  pax?: Record<string, string>;
}

/** The mtime used when an entry gives none (2023-11-14). */
export const DEFAULT_MTIME = 1_700_000_000;

const TYPEFLAG: Record<TarEntryType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
};

/** Writes `value` as zero-padded octal into a field of `width` bytes, NUL-terminated. */
function octal(buf: Buffer, offset: number, width: number, value: number): void {
  const text = Math.trunc(value)
    .toString(8)
    .padStart(width - 1, "0");
  if (text.length > width - 1) throw new Error(`tar: ${value} does not fit in a ${width}-byte field`);
  buf.write(text + "\0", offset, width, "ascii");
}

/** Writes `text` into a field, truncated to `width` bytes (callers move long values into PAX records). */
function field(buf: Buffer, offset: number, width: number, text: string): void {
  Buffer.from(text, "utf8").copy(buf, offset, 0, width);
}

/** One 512-byte ustar header. */
function header(
  name: string,
  typeflag: string,
  size: number,
  e: Omit<TarEntry, "path" | "type" | "content">,
  mode: number,
): Buffer {
  const h = Buffer.alloc(512);
  field(h, 0, 100, name);
  octal(h, 100, 8, mode);
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  octal(h, 124, 12, size);
  const mtime = e.mtime instanceof Date ? e.mtime.getTime() / 1000 : (e.mtime ?? DEFAULT_MTIME);
  octal(h, 136, 12, mtime);
  h.write(typeflag, 156, 1, "ascii");
  field(h, 157, 100, e.linkname ?? "");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  field(h, 265, 32, e.uname ?? (e.uid ? "" : "root"));
  field(h, 297, 32, e.gname ?? (e.gid ? "" : "root"));
  octal(h, 329, 8, e.devmajor ?? 0);
  octal(h, 337, 8, e.devminor ?? 0);
  h.fill(0x20, 148, 156); // The checksum is computed with its own field as spaces.
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return h;
}

/** The header and padded data of one entry. */
function block(
  name: string,
  typeflag: string,
  data: Buffer,
  e: TarEntry | Record<string, never>,
  mode: number,
) {
  const pad = (512 - (data.length % 512)) % 512;
  return [header(name, typeflag, data.length, e, mode), data, Buffer.alloc(pad)];
}

/** One PAX record: "<len> <key>=<value>\n", where len counts the whole record, itself included. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** Serialises entries into an uncompressed tar archive (ending with the two zero blocks). */
export function writeTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const content = e.type === "file" ? Buffer.from(e.content ?? "") : Buffer.alloc(0);
    const mode = e.mode ?? (e.type === "dir" ? 0o755 : e.type === "symlink" ? 0o777 : 0o644);
    const pax: Record<string, string> = { ...e.pax };
    if (Buffer.byteLength(e.path) > 100) pax.path = e.path;
    if (e.linkname !== undefined && Buffer.byteLength(e.linkname) > 100) pax.linkpath = e.linkname;
    if (Object.keys(pax).length > 0) {
      const records = Buffer.from(
        Object.entries(pax)
          .map(([k, v]) => paxRecord(k, v))
          .join(""),
      );
      const paxName = `PaxHeaders/${e.path.replace(/\/+$/, "").split("/").pop() ?? "x"}`.slice(0, 99);
      parts.push(...block(paxName, "x", records, {}, 0o644));
    }
    if (e.type !== "file" && e.content !== undefined)
      throw new Error(`tar: ${e.path}: only files have content`);
    if ((e.type === "symlink" || e.type === "hardlink") && e.linkname === undefined) {
      throw new Error(`tar: ${e.path}: a ${e.type} needs a linkname`);
    }
    parts.push(...block(e.path, TYPEFLAG[e.type], content, e, mode));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
