// The containers of the command's store, loaded lazily for the container commands (create, ps, rm, name, ...).
import type { Containers } from "../store/containers.js";
import type { Store } from "../store/store.js";

/** The Containers of `store` (src/store/containers.ts, containersOf), its module imported now. */
export async function containersOf(store: Store): Promise<Containers> {
  const { containersOf: of } = await import("../store/containers.js");
  return of(store.paths);
}
