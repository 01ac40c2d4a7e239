// A compact set of path strings kept as 64-bit hashes, so tracking every member of a huge layer stays small.

/** Two independent 32-bit hashes of a string (FNV-1a and a multiplicative variant), as one pair. */
function hashPair(s: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 16;
  b = Math.imul(b ^ (b >>> 13), 0xc2b2ae35);
  b ^= b >>> 16;
  // 0/0 marks an empty slot.
  if (a === 0 && b === 0) a = 1;
  return [a | 0, b | 0];
}

/**
 * A set of strings stored as 64-bit hashes in an open-addressing table: 8 bytes (16 at most with slack)
 * per member whatever its length. Two different strings may collide with probability ~n²/2⁶⁴; callers
 * must only use it where such a collision is harmless.
 */
export class PathHashSet {
  private table = new Int32Array(2 * 1024);
  private count = 0;

  /** Number of members. */
  get size(): number {
    return this.count;
  }

  /** Adds `s`; returns false when it was already there. */
  add(s: string): boolean {
    const [a, b] = hashPair(s);
    if (!this.insert(a, b)) return false;
    this.count++;
    if (this.count * 2 > this.table.length / 2) this.grow();
    return true;
  }

  /** True when `s` (or a string with the same hash) was added. */
  has(s: string): boolean {
    const [a, b] = hashPair(s);
    const t = this.table;
    const mask = t.length / 2 - 1;
    for (let i = a & mask; ; i = (i + 1) & mask) {
      const x = t[2 * i]!;
      const y = t[2 * i + 1]!;
      if (x === 0 && y === 0) return false;
      if (x === a && y === b) return true;
    }
  }

  private insert(a: number, b: number): boolean {
    const t = this.table;
    const mask = t.length / 2 - 1;
    for (let i = a & mask; ; i = (i + 1) & mask) {
      const x = t[2 * i]!;
      const y = t[2 * i + 1]!;
      if (x === 0 && y === 0) {
        t[2 * i] = a;
        t[2 * i + 1] = b;
        return true;
      }
      if (x === a && y === b) return false;
    }
  }

  private grow(): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 2) {
      const a = old[i]!;
      const b = old[i + 1]!;
      if (a !== 0 || b !== 0) this.insert(a, b);
    }
  }
}
