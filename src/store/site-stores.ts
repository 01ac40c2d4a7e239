// Read-only site stores (BURROW_STORES, config `stores`; README: Site stores): stores an admin or a project
// made with the usual commands (`burrow --repo DIR pull ...`), searched in order before the user's own.
// An image found in one is used in place: burrow reads its files and blobs there, and never writes, locks,
// holds or cleans anything in a site store.
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
