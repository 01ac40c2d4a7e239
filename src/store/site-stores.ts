// Read-only site stores (BURROW_STORES, config `stores`; README: Site stores): stores an admin or a project
// made with the usual commands (`burrow --repo DIR pull ...`), searched in order before the user's own.
// An image found in one is used in place: burrow reads its files and blobs there, and never writes, locks,
// holds or cleans anything in a site store.
import fs from "node:fs";
import { Store } from "./store.js";
import type { ImageRecord } from "./store.js";
import { ImageNotFoundError } from "../errors.js";

/** The site store each image record read from one came from. */
const homes = new WeakMap<ImageRecord, Store>();

/** The site store `image` was found in, or undefined for an image of the user's own store. */
export function siteStoreOf(image: ImageRecord): Store | undefined {
  return homes.get(image);
}

/** The store that holds `image`: its site store, else `own`. */
export function storeOf(image: ImageRecord, own: Store): Store {
  return homes.get(image) ?? own;
}

/**
 * The image `raw` (`normalized`: its normalised name, if it is one) names in the first of the site stores
 * `roots` that has it; a store that is missing or unreadable is passed over.
 */
export function findInSiteStores(
  roots: readonly string[],
  normalized: string | undefined,
  raw: string,
): { image: ImageRecord; store: Store } | undefined {
  for (const root of roots) {
    // Opened for reading only: no init(), which would make its folders.
    const store = new Store(root);
    try {
      const { image } = store.findImage(normalized, raw);
      // Its record names its folder: only an image id (64 hex digits) may, so that no path leaves the store.
      if (!/^[a-f0-9]{64}$/.test(image.id)) continue;
      homes.set(image, store);
      return { image, store };
    } catch (err) {
      if (err instanceof ImageNotFoundError || isErrno(err)) continue;
      throw err;
    }
  }
  return undefined;
}

/** The images of every site store, each with its store (for `images`). */
export function siteImages(roots: readonly string[]): { image: ImageRecord; store: Store }[] {
  const out: { image: ImageRecord; store: Store }[] = [];
  for (const root of roots) {
    const store = new Store(root);
    try {
      for (const image of store.listImages()) {
        if (!/^[a-f0-9]{64}$/.test(image.id)) continue;
        homes.set(image, store);
        out.push({ image, store });
      }
    } catch (err) {
      if (!isErrno(err)) throw err;
    }
  }
  return out;
}

function isErrno(err: unknown): boolean {
  return typeof (err as NodeJS.ErrnoException | undefined)?.code === "string";
}

/**
 * The site stores of `roots` that this user can read; each of the others (missing, not a folder, closed to
 * the user) is passed over with one line through `warn`: images then come from the user's own store.
 */
export function readableSiteStores(roots: readonly string[], warn: (message: string) => void): string[] {
  return roots.filter((root) => {
    let why: string | undefined;
    try {
      if (!fs.statSync(root).isDirectory()) why = "is not a folder";
      else fs.accessSync(root, fs.constants.R_OK | fs.constants.X_OK);
    } catch (err) {
      why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : "cannot be read by you";
    }
    if (why !== undefined)
      warn(
        `the site store ${root} (BURROW_STORES, or "stores" in the config file) ${why}: it is passed over, and images come from your own store`,
      );
    return why === undefined;
  });
}
