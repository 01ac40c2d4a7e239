// Saving a container's engine setting: read, change and atomically rewrite its record under the container's lock.
import path from "node:path";
import { writeFileAtomic } from "../store/atomic.js";
import type { Containers } from "../store/containers.js";
import { withLock } from "../store/lock.js";
import { InvalidArgumentError } from "../errors.js";

/**
 * Sets (or, with undefined, removes) the `engine` of container `id`, and the udocker `execmode` it was
 * chosen by (removed when not given); other fields are kept as they are on disk.
 */
export async function updateContainerEngine(
  containers: Containers,
  locksDir: string,
  id: string,
  setting: string | undefined,
  execmode?: string,
): Promise<void> {
  await withLock(locksDir, `container-${id}`, () => {
    // Re-read under the lock: another process may have changed the record since it was found.
    const current = containers.read(id);
    if (!current) {
      throw new InvalidArgumentError(`container ${id.slice(0, 12)} was removed meanwhile`);
    }
    const next = { ...current };
    if (setting === undefined) delete next.engine;
    else next.engine = setting;
    if (setting === undefined || execmode === undefined) delete next.execmode;
    else next.execmode = execmode;
    writeFileAtomic(path.join(containers.path(id), "container.json"), JSON.stringify(next, null, 2) + "\n");
    return Promise.resolve();
  });
}
