// Protected images: a marker file beside the image's metadata (images/<id>/protected), made and removed atomically.
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "./atomic.js";
import type { Store } from "./store.js";

/** The marker file of a protected image. */
function markerOf(store: Store, id: string): string {
  return path.join(store.imageDir(id), "protected");
}

/** Whether `rmi` (even `rmi -f`) must refuse the image. */
export function imageIsProtected(store: Store, id: string): boolean {
  return fs.existsSync(markerOf(store, id));
}

/** Protects (or with false, unprotects) an image: one atomic rename or unlink either way. */
export function setImageProtected(store: Store, id: string, on: boolean): void {
  if (on) writeFileAtomic(markerOf(store, id), "");
  else fs.rmSync(markerOf(store, id), { force: true });
}
