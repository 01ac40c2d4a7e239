// A build step's changes written as one OCI layer: a gzip'd tar of the changed entries in walk order, with
// whiteouts and opaque markers, the owners the build gave them and normalised metadata (no user or group
// names, no access times), so that the same tree gives the same bytes. Both digests are taken while it
// is written: the diff_id (the tar) and the blob's (the gzip).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { memberHeader } from "../archive/export.js";
import type { TarMember } from "../archive/export.js";
import { RootPaths, fromByteString } from "../image/byte-path.js";
import { withAccess } from "../store/overlay-upper.js";
import type { TreeChange } from "./tree-diff.js";

/** The media type of the layers a build writes. */
export const BUILD_LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";

/** gzip level 1: a build layer is written once per change and is mostly read locally; 6 costs 3x the time. */
const GZIP_LEVEL = 1;
const BLOCK = 512;
const CHUNK = 1 << 20;

/** Owners by guest path ("/app/x"), for entries the build gave an owner; others are root's. */
export type Owners = ReadonlyMap<string, { uid: number; gid: number }>;

/** A written layer. */
export interface WrittenLayer {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

/** What shapes the members beyond the tree: owners, and the latest modification time a member may carry. */
export interface LayerTarOptions {
  owners: Owners;
  /** The files' own owners are real (the build's namespace of subordinate ids); else root's. */
  ownersFromStat: boolean;
  /** SOURCE_DATE_EPOCH: times after it are clamped to it (reproducible layers of RUN steps). */
  clampMtime?: number | undefined;
}

/** Writes the layer of `changes` (made under `root`) to `file`; resolves to its digests and size. */
export async function writeLayerTar(
  root: string,
  changes: readonly TreeChange[],
  file: string,
  opts: LayerTarOptions,
): Promise<WrittenLayer> {
  const diffHash = createHash("sha256");
  const blobHash = createHash("sha256");
  let size = 0;
  const tee = (hash: ReturnType<typeof createHash>, count: boolean): Transform =>
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        if (count) size += chunk.length;
        done(null, chunk);
      },
    });
  await pipeline(
    Readable.from(layerMembers(root, changes, opts)),
    tee(diffHash, false),
    zlib.createGzip({ level: GZIP_LEVEL }),
    tee(blobHash, true),
    fs.createWriteStream(file, { flags: "wx", mode: 0o644 }),
  );
  return {
    digest: `sha256:${blobHash.digest("hex")}`,
    diffId: `sha256:${diffHash.digest("hex")}`,
    size,
    mediaType: BUILD_LAYER_MEDIA_TYPE,
  };
}

/** The tar stream of `changes`, in large pieces, ending with the two zero blocks. */
function* layerMembers(
  root: string,
  changes: readonly TreeChange[],
  opts: LayerTarOptions,
): Generator<Buffer> {
  const paths = new RootPaths(root);
  const firstName = new Map<bigint, string>();
  let parts: Buffer[] = [];
  let pending = 0;
  const add = function* (b: Buffer): Generator<Buffer> {
    parts.push(b);
    pending += b.length;
    if (pending >= CHUNK) {
      yield Buffer.concat(parts, pending);
      parts = [];
      pending = 0;
    }
  };
  try {
    for (const change of changes) {
      if (change.kind === "whiteout" || change.kind === "opaque") {
        const dir = change.kind === "opaque" ? change.rel : path.posix.dirname(change.rel);
        const name = change.kind === "opaque" ? ".wh..wh..opq" : `.wh.${path.posix.basename(change.rel)}`;
        const rel = dir === "." ? name : `${dir}/${name}`;
        yield* add(memberHeader({ name: rel, type: "0", mode: 0, size: 0, mtime: 0 }));
        continue;
      }
      const { rel, stat: st } = change;
      const owner = opts.owners.get("/" + fromByteString(rel));
      const mtime = Number(st.mtimeMs) / 1000;
      const base: Omit<TarMember, "type" | "size"> = {
        name: rel,
        mode: Number(st.mode) & 0o7777,
        mtime: opts.clampMtime !== undefined ? Math.min(mtime, opts.clampMtime) : mtime,
        uid: owner?.uid ?? (opts.ownersFromStat ? Number(st.uid) : 0),
        gid: owner?.gid ?? (opts.ownersFromStat ? Number(st.gid) : 0),
      };
      const sys = paths.sys(rel);
      if (st.isDirectory()) {
        yield* add(memberHeader({ ...base, name: `${rel}/`, type: "5", size: 0 }));
      } else if (st.isSymbolicLink()) {
        const linkname = fs.readlinkSync(sys, { encoding: "latin1" });
        yield* add(memberHeader({ ...base, type: "2", size: 0, linkname }));
      } else if (st.isFIFO()) {
        yield* add(memberHeader({ ...base, type: "6", size: 0 }));
      } else if (st.isFile()) {
        const first = st.nlink > 1n ? firstName.get(st.ino) : undefined;
        if (first !== undefined) {
          yield* add(memberHeader({ ...base, type: "1", size: 0, linkname: first }));
          continue;
        }
        if (st.nlink > 1n) firstName.set(st.ino, rel);
        const length = Number(st.size);
        yield* add(memberHeader({ ...base, type: "0", size: length }));
        const fd = withAccess(sys, 0o400, () =>
          fs.openSync(sys, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW),
        );
        try {
          let offset = 0;
          while (offset < length) {
            const buf = Buffer.alloc(Math.min(CHUNK, length - offset));
            // A file that shrank since it was listed is zero-filled to the size its header gave.
            const n = fs.readSync(fd, buf, 0, buf.length, offset);
            offset += n === 0 ? buf.length : n;
            yield* add(n === 0 ? buf : buf.subarray(0, n));
          }
        } finally {
          fs.closeSync(fd);
        }
        const pad = (BLOCK - (length % BLOCK)) % BLOCK;
        if (pad > 0) yield* add(Buffer.alloc(pad));
      }
      // Sockets and device nodes a RUN left are not layer content (Docker leaves them out too).
    }
  } finally {
    paths.invalidate();
  }
  yield* add(Buffer.alloc(2 * BLOCK));
  if (pending > 0) yield Buffer.concat(parts, pending);
}
