// Random hex for unique names (temporary files, scratch folders, container ids) without node:crypto,
// whose load (the whole crypto module and its bindings) costs a few milliseconds on every command.
import fs from "node:fs";

let counter = 0;

/** `bytes` bytes from /dev/urandom, or undefined where it cannot be read. */
function urandom(bytes: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync("/dev/urandom", "r");
    const buf = Buffer.allocUnsafe(bytes);
    let got = 0;
    while (got < bytes) {
      const n = fs.readSync(fd, buf, got, bytes - got, null);
      if (n <= 0) return undefined;
      got += n;
    }
    return buf;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * `bytes` random bytes as hex (2 × bytes characters), read from the kernel's /dev/urandom; without it,
 * mixed from the pid, the monotonic clock, a per-process counter and Math.random (names made with it
 * are still created exclusively, O_EXCL or mkdir, so a collision fails instead of sharing a file).
 */
export function randomHex(bytes: number): string {
  const buf = urandom(bytes);
  if (buf !== undefined) return buf.toString("hex");
  let out = "";
  let seed = `${process.pid}.${process.hrtime.bigint()}.${++counter}`;
  while (out.length < bytes * 2) {
    let h = 0x811c9dc5;
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
    const r = Math.floor(Math.random() * 0x100000000);
    out += ((h ^ r) >>> 0).toString(16).padStart(8, "0");
    seed = `${seed}.${r}`;
  }
  return out.slice(0, bytes * 2);
}
