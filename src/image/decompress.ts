// Layer blobs to tar bytes: media type checks, magic-byte sniffing, and gzip/zstd decompression.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { findOnPath } from "../find-on-path.js";
import { keepYoungGenerationSmall } from "./young-generation.js";

export { findOnPath };

/** The compressions a layer blob may use. */
export type Compression = "gzip" | "zstd" | "none";

/** A blob that cannot be decompressed: corrupt or truncated data, or a decompressor that failed. */
export class DecompressError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DecompressError";
  }
}

/** How gzip is decompressed: in-process zlib (threadpool), or an external `pigz -dc` / `gzip -dc`. */
export type GzipMethod = "zlib" | "pigz" | "gzip";
/** How zstd is decompressed: the `zstd -dc` binary or the pure-JS fzstd. */
export type ZstdMethod = "zstd" | "fzstd";

/** Explicit decompressor choices (tests and benchmarks); "auto" picks the fastest available. */
export interface DecompressPreference {
  gzip: GzipMethod | "auto";
  zstd: ZstdMethod | "auto";
}

const preference: DecompressPreference = { gzip: "auto", zstd: "auto" };

/** Overrides which decompressors are used (for tests and benchmarks); returns the previous choice. */
export function setDecompressPreference(p: Partial<DecompressPreference>): DecompressPreference {
  const before = { ...preference };
  Object.assign(preference, p);
  return before;
}

const LAYER_MEDIA_TYPE =
  /^application\/vnd\.(?:oci\.image\.layer(?:\.nondistributable)?\.v1\.tar|docker\.image\.rootfs(?:\.foreign)?\.diff\.tar)(?:[+.](gzip|zstd))?$/;

/**
 * The compression a layer media type announces; undefined when it is not a tar layer type. An empty media
 * type (docker-archive layers) is accepted as "none", and sniffing decides.
 */
export function mediaTypeCompression(mediaType: string): Compression | undefined {
  if (mediaType === "") return "none";
  const m = LAYER_MEDIA_TYPE.exec(mediaType);
  if (!m) return undefined;
  return m[1] === "gzip" ? "gzip" : m[1] === "zstd" ? "zstd" : "none";
}

/** The compression the first bytes of a blob show: gzip (1f 8b), zstd (28 b5 2f fd), else plain tar. */
export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    return "zstd";
  }
  return "none";
}

/** Names a compression burrow recognises but cannot read (bzip2, xz), from the first bytes; else undefined. */
export function unsupportedCompression(head: Buffer): string | undefined {
  if (head.length >= 3 && head.toString("latin1", 0, 3) === "BZh") return "bzip2";
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])))
    return "xz";
  return undefined;
}

/** Reads the first bytes of a stream for sniffing and puts them back. */
export async function peekHead(stream: Readable, length: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < length) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) {
      parts.push(chunk);
      have += chunk.length;
      continue;
    }
    if (stream.readableEnded || stream.destroyed) break;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        stream.off("readable", done);
        stream.off("end", done);
        stream.off("close", done);
        stream.off("error", fail);
        resolve();
      };
      const fail = (err: Error): void => {
        stream.off("readable", done);
        stream.off("end", done);
        stream.off("close", done);
        reject(err);
      };
      stream.once("readable", done);
      stream.once("end", done);
      stream.once("close", done);
      stream.once("error", fail);
    });
    if (stream.errored) throw stream.errored;
  }
  const buf = Buffer.concat(parts);
  if (buf.length > 0) stream.unshift(buf);
  return buf.subarray(0, length);
}

/** A readable of the blob: the file's bytes, or the stream given. */
function openSource(source: string | Readable): Readable {
  return typeof source === "string" ? fs.createReadStream(source, { highWaterMark: READ_CHUNK }) : source;
}

/** Reads the first bytes of a file for sniffing. */
export function readHead(file: string, length = 512): Buffer {
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(length);
    const n = fs.readSync(fd, buf, 0, length, 0);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/** Read size of a blob on disk: small enough that the dead chunks between two collections stay a few MiB. */
const READ_CHUNK = 256 * 1024;

/**
 * Picks the gzip method: the preference, else zlib. Measured on 2 cores (bench/flatten): zlib's inflate in
 * the libuv threadpool already overlaps with extraction and beats piping from `pigz -dc` or `gzip -dc`,
 * which cost an extra copy through a 64 KiB pipe (and gzip's own inflate is slower).
 */
export function gzipMethod(): GzipMethod {
  return preference.gzip === "auto" ? "zlib" : preference.gzip;
}

/** Picks the zstd method: the preference, else the zstd binary when on PATH, else fzstd. */
export function zstdMethod(): ZstdMethod {
  if (preference.zstd !== "auto") return preference.zstd;
  return findOnPath("zstd") ? "zstd" : "fzstd";
}

/**
 * Yields the decompressed bytes of `file` in chunks. `onRead` is told the compressed bytes consumed so far.
 * Stopping the iteration early releases the file and ends any child process.
 */
export async function* decompressFile(
  file: string | Readable,
  compression: Compression,
  onRead?: (bytes: number) => void,
): AsyncGenerator<Buffer> {
  keepYoungGenerationSmall();
  yield* decompressed(file, compression, onRead);
}

/** decompressFile, once the heap is set for streaming. */
async function* decompressed(
  file: string | Readable,
  compression: Compression,
  onRead?: (bytes: number) => void,
): AsyncGenerator<Buffer> {
  if (compression === "none") {
    yield* counted(openSource(file), onRead);
  } else if (compression === "gzip") {
    const method = gzipMethod();
    if (method === "zlib") yield* zlibGunzip(file, onRead);
    else yield* external(findOnPath(method) ?? method, file, onRead);
  } else {
    const method = zstdMethod();
    if (method === "zstd") yield* external(findOnPath("zstd") ?? "zstd", file, onRead);
    else yield* fzstdDecompress(file, onRead);
  }
}

async function* counted(
  source: AsyncIterable<Buffer>,
  onRead?: (bytes: number) => void,
): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    onRead?.(total);
    yield chunk;
  }
}

async function* zlibGunzip(
  file: string | Readable,
  onRead?: (bytes: number) => void,
): AsyncGenerator<Buffer> {
  const input = openSource(file);
  // 256 KiB of tar a chunk: each chunk is a round trip between the thread that inflates and the main
  // thread, and on 2 cores a pull of the Debian layer took 10 % less time than with 128 KiB (median of 6,
  // bench/pull), its peak memory unchanged once the download came in 256 KiB pieces (src/registry/client.ts).
  // 64 KiB cost 10 % more time again.
  const gunzip = zlib.createGunzip({ chunkSize: 256 * 1024 });
  let total = 0;
  let failure: unknown;
  input.on("data", (c: string | Buffer) => {
    total += c.length;
    onRead?.(total);
  });
  input.on("error", (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (err) {
    failure = err;
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  if (failure !== undefined) {
    throw new DecompressError(`gzip: ${(failure as Error).message}`, { cause: failure });
  }
}

/** Runs `cmd -dc` with the blob on stdin and yields its stdout; a non-zero exit is a DecompressError. */
/** Yields what `CMD -dc` writes for `file` (gzip, pigz, zstd, bzip2, xz all take -dc); a failure is a DecompressError. */
export async function* external(
  cmd: string,
  file: string | Readable,
  onRead?: (bytes: number) => void,
): AsyncGenerator<Buffer> {
  const child = spawn(cmd, ["-dc"], { stdio: ["pipe", "pipe", "pipe"] }) as ChildProcessByStdio<
    Writable,
    Readable,
    Readable
  >;
  // The blob goes through this process (one cheap copy) so that progress can be counted.
  const input = openSource(file);
  let total = 0;
  input.on("data", (c: string | Buffer) => {
    total += c.length;
    onRead?.(total);
  });
  input.on("error", () => child.kill("SIGKILL"));
  // A decompressor that stops early closes its stdin; its exit status tells why.
  child.stdin.on("error", () => {});
  input.pipe(child.stdin);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once("error", (error) => resolve({ code: null, signal: null, error }));
      child.once("close", (code, signal) => resolve({ code, signal }));
    },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  let finished = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    finished = true;
  } finally {
    if (!finished) child.kill("SIGKILL");
    input.destroy();
  }
  const { code, signal, error } = await exited;
  if (error) throw new DecompressError(`cannot run ${cmd}: ${error.message}`, { cause: error });
  if (code !== 0) {
    const why = stderr.trim().split("\n").pop() ?? "";
    throw new DecompressError(
      `${path.basename(cmd)} -dc failed (${signal ?? `exit ${code}`})${why ? `: ${why}` : ""}`,
    );
  }
  if (input.errored) {
    throw new DecompressError(
      `cannot read ${typeof file === "string" ? file : "the layer"}: ${input.errored.message}`,
    );
  }
}

async function* fzstdDecompress(
  file: string | Readable,
  onRead?: (bytes: number) => void,
): AsyncGenerator<Buffer> {
  const { Decompress } = await import("fzstd");
  const out: Buffer[] = [];
  const d = new Decompress((chunk: Uint8Array) => {
    out.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  });
  const push = (chunk: Uint8Array, final: boolean): void => {
    try {
      d.push(chunk, final);
    } catch (err) {
      throw new DecompressError(`zstd: ${(err as Error).message}`, { cause: err });
    }
  };
  for await (const chunk of counted(openSource(file), onRead)) {
    push(chunk, false);
    while (out.length > 0) yield out.shift()!;
  }
  push(new Uint8Array(0), true);
  while (out.length > 0) yield out.shift()!;
}
