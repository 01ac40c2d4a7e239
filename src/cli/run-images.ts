// The images the run path is given (src/run/host.ts ImageSource): found in the store as every command finds
// them, pulled by what the caller passes (the whole CLI pulls; run.cjs hands the run to the whole CLI).
import type { ImageSource } from "../run/host.js";
import type { ImageRecord, Store } from "../store/store.js";

/** The image `reference` names in the store (local names and ids first), or undefined. */
export async function findLocalImage(store: Store, reference: string): Promise<ImageRecord | undefined> {
  const { resolveLocalImage } = await import("./resolve.js");
  const { ImageNotFoundError } = await import("../errors.js");
  try {
    return resolveLocalImage(store, reference).image;
  } catch (err) {
    if (err instanceof ImageNotFoundError) return undefined;
    throw err;
  }
}

/** The store's images, and `pull` for one it lacks. */
export function imageSource(pull: ImageSource["pull"]): ImageSource {
  return { find: findLocalImage, pull };
}
