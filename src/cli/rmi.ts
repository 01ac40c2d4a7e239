// `burrow rmi`: removes image names, and the images and blobs nothing else needs.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { normalizeName } from "./resolve.js";
import { ConflictError, ImageNotFoundError } from "../errors.js";
import type { Store } from "../store/store.js";
import { familiarName, humanSize } from "./format.js";

/** Removes names; an image goes when its last name goes (or when named by id with -f). */
export class RmiCommand extends BurrowCommand {
  static override paths = [["rmi"], ["image", "rm"]];
  static override usage = BurrowCommand.Usage({
    description: "Remove images from the store",
    details:
      "Removing a name removes the image when no other name points at it, then every blob no remaining image uses. An image id removes the image; with several names it needs -f. An image that containers were made from loses its name as udocker's rmi does, and its files stay for those containers (not listed by images) until the last of them is removed; rmi says so in one line. An image a run uses right now loses its names at once and its files when the last such run ends. A protected image (`burrow protect`) is refused, also with -f: `burrow unprotect` it first.",
    examples: [
      ["Remove an image", "$0 rmi alpine"],
      ["Remove an image and all its names", "$0 rmi -f 3f57d9401f8d"],
    ],
  });

  force = Option.Boolean("-f,--force", false, {
    description: "Remove an image even when it has several names",
  });
  images = Option.Rest({ name: "IMAGE", required: 1 });

  async run(): Promise<number> {
    const store = await this.store();
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(store);
    const { imageIsProtected } = await import("../store/protection.js");
    let status = 0;
    for (const raw of this.images) {
      try {
        const { image, ref } = await this.ownImage(store, raw);
        const names = store.listRefs().filter((r) => r.image === image.id);
        let toRemove = ref ? [ref] : names;
        if (!ref && names.length > 1 && !this.force) {
          throw new ConflictError(
            `image ${image.id.slice(0, 12)} has several names (${names.map((n) => n.name).join(", ")}): remove them by name, or use rmi -f`,
          );
        }
        if (ref && this.force) toRemove = [ref];
        if (imageIsProtected(store, image.id)) {
          throw new ConflictError(
            `image ${raw} is protected: run 'burrow unprotect ${raw}' first, then rmi it again`,
          );
        }
        const users = containers.list().filter((c) => c.image === image.id);
        for (const r of toRemove) {
          store.removeRef(r.name);
          this.context.stdout.write(`Untagged: ${familiarName(r.name)}\n`); // as docker prints it
        }
        const left = store.listRefs().filter((r) => r.image === image.id);
        if (left.length === 0) {
          // Runs that use it hold it (src/store/holds.ts), and containers made from it keep it, as
          // udocker's rmi does: its files go when the last such run ends or the last container is removed.
          const { removeImageUnlessHeld } = await import("../store/holds.js");
          const removed = await removeImageUnlessHeld(store, image.id);
          if (removed === undefined) {
            this.info(
              users.length > 0
                ? `Kept ${image.id.slice(0, 12)} for container(s) ${users.map((c) => c.name ?? c.id.slice(0, 12)).join(", ")}: its files go when the last of them is removed`
                : `Removed ${image.id.slice(0, 12)}: a running container uses it, its files go when that run ends`,
            );
            continue;
          }
          this.context.stdout.write(`Deleted: sha256:${image.id}\n`);
          // A SquashFS image's unpacked copy on this node (src/run/squashfs-root.ts) goes with it.
          (await import("../run/squashfs-root.js")).forgetNodeCopies(image.id, this.context.env);
          if (!this.quiet && removed.length > 0) {
            const bytes = image.layers
              .filter((l) => removed.includes(l.digest))
              .reduce((a, l) => a + l.size, 0);
            this.info(`Freed ${removed.length} blob(s), ${humanSize(bytes)} of layers`);
          }
        }
      } catch (err) {
        const { reportError } = await import("./base.js");
        status = reportError(err, this.context.stderr, this.debug, this.failureStatus());
      }
    }
    return status;
  }

  /**
   * The image `raw` names in the user's store; an image only a site store has is refused (burrow never
   * changes a site store), with where it is and what to do.
   */
  private async ownImage(store: Store, raw: string): Promise<ReturnType<Store["findImage"]>> {
    try {
      return store.findImage(normalizeName(raw), raw);
    } catch (err) {
      if (!(err instanceof ImageNotFoundError)) throw err;
      const { stores } = await this.config();
      const { findInSiteStores } = await import("../store/site-stores.js");
      const site = findInSiteStores(stores, normalizeName(raw), raw);
      if (site === undefined) throw err;
      throw new ConflictError(
        `image ${raw} is in the site store ${site.store.paths.root}, which burrow never changes: ask its owner to remove it (they run 'burrow --repo ${site.store.paths.root} rmi ${raw}'), or leave it out of BURROW_STORES`,
      );
    }
  }
}
