// The bytes of a local archive that ADD unpacks: its compression told by its first bytes (gzip, bzip2, xz,
// zstd, or none), and the tar stream read from it (bzip2 and xz through the `bzip2 -dc` / `xz -dc` tools).
import fs from "node:fs";
import { findOnPath } from "../find-on-path.js";
import { decompressFile, external, sniffCompression, unsupportedCompression } from "../image/decompress.js";
import { parseTarNumber } from "../image/tar-parser.js";

/** The compressions ADD recognises, as Docker's archive detection does. */
export type ArchiveCompression = "none" | "gzip" | "bzip2" | "xz" | "zstd";

/** The compression the first bytes of a file show ("none" for anything else). */
export function sniffArchive(head: Buffer): ArchiveCompression {
  const other = unsupportedCompression(head);
  if (other === "bzip2" || other === "xz") return other;
  return sniffCompression(head);
}

/** Yields the decompressed bytes of `file` (a path burrow opened, such as /proc/self/fd/N). */
export async function* archiveBytes(file: string, compression: ArchiveCompression): AsyncGenerator<Buffer> {
  if (compression === "bzip2" || compression === "xz") yield* viaTool(compression, file);
  else yield* decompressFile(file, compression);
}

/** `bzip2 -dc` or `xz -dc` of the file, through the decompressors' one runner (src/image/decompress.ts). */
async function* viaTool(tool: "bzip2" | "xz", file: string): AsyncGenerator<Buffer> {
  const cmd = findOnPath(tool);
  if (cmd === undefined) throw new Error(`it is ${tool}-compressed and ${tool} is not installed`);
  yield* external(cmd, file);
}

/** Whether a 512-byte block is a tar header (not all zeros, its checksum right), as Go's tar reader requires. */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (block.subarray(0, 512).every((b) => b === 0)) return false;
  try {
    const stored = parseTarNumber(block, 148, 8, "checksum");
    return stored === unsigned || stored === signed;
  } catch {
    return false;
  }
}

/** The compression of `file` when it is a tar archive ADD unpacks (possibly compressed); undefined when it is not one. */
export async function localArchive(file: string): Promise<ArchiveCompression | undefined> {
  const head = Buffer.alloc(8);
  const fd = fs.openSync(file, "r");
  let n: number;
  try {
    n = fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  const compression = sniffArchive(head.subarray(0, n));
  if ((compression === "bzip2" || compression === "xz") && findOnPath(compression) === undefined) {
    throw new Error(
      `it is ${compression}-compressed and ${compression} is not installed; install it and retry`,
    );
  }
  const parts: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of archiveBytes(file, compression)) {
      parts.push(chunk);
      have += chunk.length;
      if (have >= 512) break;
    }
  } catch {
    // Bytes that do not decompress are no archive: the file is copied as it is, as Docker does.
    return undefined;
  }
  return isTarHeader(Buffer.concat(parts)) ? compression : undefined;
}
