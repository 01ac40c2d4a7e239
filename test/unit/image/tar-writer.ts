// Test helper: a small tar writer that can produce the odd and hostile archives GNU tar refuses to make.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** One member to write. */
export interface Member {
  path: string;
  /** Type flag character; "0" (regular) unless given. */
  type?: string;
  data?: string | Buffer;
  linkpath?: string;
  mode?: number;
  mtime?: number;
  /** Per-member PAX records written as an `x` header before it. */
  pax?: Record<string, string>;
  /** Write the name (and link name) through GNU `L`/`K` members. */
  gnuLong?: boolean;
  /** Write the size field in GNU base-256. */
  base256Size?: boolean;
  /** Split the name into the ustar prefix field at this index of `path`. */
  prefixSplit?: number;
  /** Overrides the size field (the data written stays `data`). */
  sizeField?: number;
  /** The name field's raw bytes (instead of `path`, which then only names the member in tests). */
  pathBytes?: Buffer;
  /** Raw PAX records (see `paxRecord`), written as an `x` header before the member (after `pax`). */
  paxBytes?: Buffer;
  /**
   * An old GNU sparse member (type 'S'): its data regions (`data` holds their bytes, concatenated) and
   * real size; regions past the header's four go into extension blocks.
   */
  gnuSparse?: { regions: Array<[offset: number, length: number]>; realSize: number };
}

const enc = new TextEncoder();

function octal(buf: Buffer, off: number, len: number, value: number): void {
  buf.write(value.toString(8).padStart(len - 1, "0") + "\0", off, len, "latin1");
}

function header(m: Member, size: number, gnu: boolean): Buffer {
  const h = Buffer.alloc(512);
  let name = m.path;
  if (m.prefixSplit !== undefined) {
    Buffer.from(m.path.slice(0, m.prefixSplit)).copy(h, 345, 0, 155);
    name = m.path.slice(m.prefixSplit + 1);
  }
  if (m.pathBytes !== undefined) m.pathBytes.copy(h, 0, 0, 100);
  else Buffer.from(enc.encode(name)).copy(h, 0, 0, 100);
  octal(h, 100, 8, m.mode ?? (m.type === "5" ? 0o755 : 0o644));
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  const sizeValue = m.sizeField ?? size;
  if (m.base256Size) {
    h[124] = 0x80;
    let v = sizeValue;
    for (let i = 135; i > 124; i--) {
      h[i] = v % 256;
      v = Math.floor(v / 256);
    }
  } else {
    octal(h, 124, 12, sizeValue);
  }
  octal(h, 136, 12, m.mtime ?? 1_600_000_000);
  h.write(m.type ?? "0", 156, 1, "latin1");
  if (m.linkpath !== undefined) Buffer.from(enc.encode(m.linkpath)).copy(h, 157, 0, 100);
  if (gnu) h.write("ustar  \0", 257, 8, "latin1");
  else h.write("ustar\x0000", 257, 8, "latin1");
  if (m.gnuSparse !== undefined) {
    m.gnuSparse.regions.slice(0, 4).forEach(([off, len], i) => {
      octal(h, 386 + i * 24, 12, off);
      octal(h, 398 + i * 24, 12, len);
    });
    h[482] = m.gnuSparse.regions.length > 4 ? 1 : 0;
    octal(h, 483, 12, m.gnuSparse.realSize);
  }
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
  return h;
}

function pad(data: Buffer): Buffer[] {
  const rest = data.length % 512;
  return rest === 0 ? [data] : [data, Buffer.alloc(512 - rest)];
}

/** One PAX record of raw bytes (`LEN key=value\n`, LEN counting itself): binary values, repeated keys. */
export function paxRecord(key: string | Buffer, value: string | Buffer): Buffer {
  const body = Buffer.concat([
    Buffer.from(" "),
    Buffer.from(key),
    Buffer.from("="),
    Buffer.from(value),
    Buffer.from("\n"),
  ]);
  let len = body.length + String(body.length).length;
  if (String(len).length + body.length !== len) len = body.length + String(len).length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** Old GNU sparse extension blocks for the regions past the header's first four (21 a block). */
function sparseExtensions(regions: Array<[number, number]>): Buffer[] {
  const rest = regions.slice(4);
  const out: Buffer[] = [];
  for (let i = 0; i < rest.length; i += 21) {
    const b = Buffer.alloc(512);
    rest.slice(i, i + 21).forEach(([off, len], j) => {
      octal(b, j * 24, 12, off);
      octal(b, j * 24 + 12, 12, len);
    });
    b[504] = i + 21 < rest.length ? 1 : 0;
    out.push(b);
  }
  return out;
}

/** Encodes PAX records (`LEN key=value\n`, LEN counting itself). */
export function paxRecords(records: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(records)) {
    const body = ` ${k}=${v}\n`;
    const bodyLen = Buffer.byteLength(body);
    let len = bodyLen + String(bodyLen).length;
    if (String(len).length + bodyLen !== len) len = bodyLen + String(len).length;
    parts.push(Buffer.from(`${len}${body}`));
  }
  return Buffer.concat(parts);
}

/** Builds a tar archive; `end: false` leaves out the end-of-archive blocks. */
export function buildTar(
  members: Member[],
  opts: { end?: boolean; globalPax?: Record<string, string>; gnu?: boolean } = {},
): Buffer {
  const out: Buffer[] = [];
  const gnu = opts.gnu ?? false;
  if (opts.globalPax) {
    const body = paxRecords(opts.globalPax);
    out.push(header({ path: "pax_global_header", type: "g" }, body.length, gnu), ...pad(body));
  }
  for (const m of members) {
    const data = m.data === undefined ? Buffer.alloc(0) : Buffer.from(m.data);
    if (m.pax || m.paxBytes) {
      const body = Buffer.concat([
        m.pax ? paxRecords(m.pax) : Buffer.alloc(0),
        m.paxBytes ?? Buffer.alloc(0),
      ]);
      out.push(header({ path: "PaxHeader/x", type: "x" }, body.length, gnu), ...pad(body));
    }
    if (m.gnuLong) {
      const name = Buffer.from(m.path + "\0");
      out.push(header({ path: "././@LongLink", type: "L" }, name.length, true), ...pad(name));
      if (m.linkpath !== undefined) {
        const link = Buffer.from(m.linkpath + "\0");
        out.push(header({ path: "././@LongLink", type: "K" }, link.length, true), ...pad(link));
      }
    }
    out.push(header(m, data.length, gnu || (m.gnuLong ?? false) || m.gnuSparse !== undefined));
    if (m.gnuSparse !== undefined) out.push(...sparseExtensions(m.gnuSparse.regions));
    if (data.length > 0) out.push(...pad(data));
  }
  if (opts.end ?? true) out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = "burrow-image-"): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A listing of everything below `dir` (type, mode, size, link target, content hash, mtime) for comparison. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    const abs = rel === "" ? dir : path.join(dir, rel);
    const st = fs.lstatSync(abs);
    let what: string;
    if (st.isSymbolicLink()) what = `link ${fs.readlinkSync(abs)}`;
    else if (st.isDirectory()) what = "dir";
    else if (st.isFile()) what = `file ${fs.readFileSync(abs).toString("base64")}`;
    else what = "other";
    out[rel || "."] = `${what} mode=${(st.mode & 0o7777).toString(8)} mtime=${st.mtimeMs} ino=${st.ino}`;
    if (st.isDirectory()) for (const c of fs.readdirSync(abs).sort()) walk(path.join(rel, c));
  };
  walk("");
  return out;
}
