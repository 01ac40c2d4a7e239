// The images the run path is given (src/run/host.ts ImageSource): found in the store as every command finds
// them, pulled by what the caller passes (the whole CLI pulls; run.cjs hands the run to the whole CLI).
import type { ImageSource } from "../run/host.js";
import type { ImageRecord, Store } from "../store/store.js";

/**
 * The image `reference` names (local names and ids first): in the site stores `sites` (searched in order,
 * src/store/site-stores.ts), else in the store; undefined when none has it.
 */
export async function findLocalImage(
  store: Store,
  reference: string,
  sites: readonly string[] = [],
): Promise<ImageRecord | undefined> {
  const { resolveLocalImage, normalizeName } = await import("./resolve.js");
  if (sites.length > 0) {
    const { findInSiteStores } = await import("../store/site-stores.js");
    const found = findInSiteStores(sites, normalizeName(reference), reference);
    if (found !== undefined) return found.image;
  }
  const { ImageNotFoundError } = await import("../errors.js");
  try {
    return resolveLocalImage(store, reference).image;
  } catch (err) {
    if (err instanceof ImageNotFoundError) return undefined;
    throw err;
  }
}

/** The images of the site stores (`sites()`, the configuration's) and the store, and `pull` for one they lack. */
export function imageSource(pull: ImageSource["pull"], sites: () => Promise<readonly string[]>): ImageSource {
  return { find: async (store, reference) => findLocalImage(store, reference, await sites()), pull };
}
