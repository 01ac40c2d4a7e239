// The containers of the command's store, shared by the container commands (create, ps, rm, name, ...).
import path from "node:path";
import type { Containers } from "../store/containers.js";
import type { Store } from "../store/store.js";

/** The Containers of `store` (`<root>/containers`, locks in `<root>/locks`). */
export async function containersOf(store: Store): Promise<Containers> {
  const { Containers } = await import("../store/containers.js");
  return new Containers(path.join(store.paths.root, "containers"), store.paths.locks);
}
