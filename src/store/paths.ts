// Where everything lives inside a store root.
import path from "node:path";

/** The folders and files of one store. */
export interface StorePaths {
  root: string;
  /** Content-addressed blobs: `blobs/sha256/<hex>`. */
  blobs: string;
  /** Flattened images by config digest: `images/<hex>/{rootfs,image.json}`. */
  images: string;
  /** One file per name (`refs/<encoded name>`) pointing at an image. */
  refs: string;
  /** Lock directories (mkdir-based, so they work on NFS). */
  locks: string;
  /** Scratch space on the store's filesystem, so renames into place are atomic. */
  tmp: string;
  /** Registry credentials, mode 0600. */
  credentials: string;
  /** The build cache: one record per build step by its key (`build-cache/<hex>.json`), src/builder/cache.ts. */
  buildCache: string;
}

/** The paths of the store rooted at `root`. */
export function storePaths(root: string): StorePaths {
  return {
    root,
    blobs: path.join(root, "blobs", "sha256"),
    images: path.join(root, "images"),
    refs: path.join(root, "refs"),
    locks: path.join(root, "locks"),
    tmp: path.join(root, "tmp"),
    credentials: path.join(root, "credentials.json"),
    buildCache: path.join(root, "build-cache"),
  };
}

/** The hex part of a `sha256:<hex>` digest, checked so it can be used as a file name. */
export function digestHex(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new Error(`not a sha256 digest: ${JSON.stringify(digest)}`);
  return m[1]!;
}

/** The path of a blob in the store. */
export function blobPath(paths: StorePaths, digest: string): string {
  return path.join(paths.blobs, digestHex(digest));
}
