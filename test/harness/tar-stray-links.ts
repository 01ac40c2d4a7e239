// A tar stream filter that clears the link name of entries that are not links. Buildah 1.28 (Podman 4.3,
// overlay storage) writes whiteout files whose header keeps the link name of an earlier entry; GNU tar
// ignores it, node-tar drops the whole entry ("linkpath forbidden"), which would lose the whiteout.
import { Transform } from "node:stream";
import type { TransformCallback } from "node:stream";

const BLOCK = 512;
/** Type flags whose link name field means something: hard and symbolic links. */
const LINK_TYPES = new Set(["1", "2"]);

/** A header's size field: octal text, or GNU base-256 when the top bit of its first byte is set. */
function headerSize(h: Buffer): number {
  const field = h.subarray(124, 136);
  if ((field[0]! & 0x80) !== 0) {
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field
    .toString("latin1")
    .replace(/[\0 ]+$/g, "")
    .trim();
  return text === "" ? 0 : parseInt(text, 8);
}

/** Zeroes the link name field (157..257) and writes the header's checksum again. */
function clearLinkname(h: Buffer): void {
  h.fill(0, 157, 257);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
}

/** The filter over an uncompressed tar stream; everything else passes unchanged. */
export function clearStrayLinknames(): Transform {
  let pending: Buffer = Buffer.alloc(0);
  /** Data blocks still to pass before the next header. */
  let dataBlocks = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const whole = pending.length - (pending.length % BLOCK);
      for (let off = 0; off < whole; off += BLOCK) {
        if (dataBlocks > 0) {
          const n = Math.min(dataBlocks, (whole - off) / BLOCK);
          dataBlocks -= n;
          off += (n - 1) * BLOCK;
          continue;
        }
        const h = pending.subarray(off, off + BLOCK);
        if (h.every((b) => b === 0)) continue;
        const type = String.fromCharCode(h[156] || 0x30);
        if (!LINK_TYPES.has(type) && h[157] !== 0 && !"xgKL".includes(type)) clearLinkname(h);
        // Links, devices, folders and FIFOs carry no data blocks, whatever their size field says.
        const size = "123456".includes(type) ? 0 : headerSize(h);
        dataBlocks = Math.ceil(size / BLOCK);
      }
      this.push(pending.subarray(0, whole));
      pending = Buffer.from(pending.subarray(whole));
      done();
    },
    flush(done: TransformCallback) {
      if (pending.length > 0) this.push(pending);
      done();
    },
  });
}
