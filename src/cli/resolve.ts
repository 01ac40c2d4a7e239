// Finding a local image from what the user typed: a name (normalised as docker does) or an image id.
import type { Store, ImageRecord, RefRecord } from "../store/store.js";
import { parseReference } from "../registry/reference.js";

/** The normalised name for `raw`, or undefined when it is not a valid reference (an id prefix, say). */
export function normalizeName(raw: string): string | undefined {
  try {
    return parseReference(raw).toString();
  } catch {
    return undefined;
  }
}

/** Resolves a local image by name first, then by id; throws ImageNotFoundError with what to do. */
export function resolveLocalImage(store: Store, raw: string): { image: ImageRecord; ref?: RefRecord } {
  return store.findImage(normalizeName(raw), raw);
}
