// Named containers: a persistent writable layer over a shared image, under containers/<id>/.
import fs from "node:fs";
import path from "node:path";
import { randomHex } from "./random.js";
import { writeFileAtomic, removeTreeAtomic } from "./atomic.js";
import { ConflictError, InvalidArgumentError } from "../errors.js";

/** `containers/<id>/container.json`. */
export interface ContainerRecord {
  id: string;
  name?: string | undefined;
  /** The image id (config digest hex) it was made from, and the name used. */
  image: string;
  imageName?: string | undefined;
  created: string;
  /** `overlay`: upper/ and work/ over the image rootfs; `copy`: its own rootfs/. */
  layer: "overlay" | "copy";
  /** The engine saved with `setup --engine` (issue 4/5). */
  engine?: string | undefined;
}

/** Files every run writes again (from the host), which are no change of the container's own. */
const REGENERATED = new Set(["etc/resolv.conf", "etc/hosts", "etc/apt/apt.conf.d/00burrow-sandbox"]);

/** Whether an overlay upper layer holds anything but regenerated files and empty folders. */
function hasOwnChanges(upper: string): boolean {
  const walk = (dir: string, rel: string): boolean => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (walk(path.join(dir, e.name), r)) return true;
      } else if (!REGENERATED.has(r)) {
        return true;
      }
    }
    return false;
  };
  return walk(upper, "");
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/** The containers of one store. */
export class Containers {
  constructor(readonly dir: string) {}

  /** Folder of one container. */
  path(id: string): string {
    return path.join(this.dir, id);
  }

  /** Every complete container. */
  list(): ContainerRecord[] {
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((n) => /^[a-f0-9]{64}$/.test(n))
      .map((n) => this.read(n))
      .filter((c): c is ContainerRecord => c !== undefined);
  }

  /** One container's record. */
  read(id: string): ContainerRecord | undefined {
    try {
      return JSON.parse(
        fs.readFileSync(path.join(this.path(id), "container.json"), "utf8"),
      ) as ContainerRecord;
    } catch {
      return undefined;
    }
  }

  /** Finds a container by name, full id or a unique id prefix (at least 4 characters). */
  find(key: string): ContainerRecord | undefined {
    const all = this.list();
    const byName = all.find((c) => c.name === key);
    if (byName) return byName;
    if (/^[a-f0-9]{4,64}$/.test(key)) {
      const m = all.filter((c) => c.id.startsWith(key));
      if (m.length === 1) return m[0];
    }
    return undefined;
  }

  /** Creates a container over `image`; the layer folders are made ready for `layer`. */
  create(
    image: string,
    imageName: string | undefined,
    name: string | undefined,
    layer: ContainerRecord["layer"],
  ): ContainerRecord {
    if (name !== undefined) {
      if (!NAME_RE.test(name)) {
        throw new InvalidArgumentError(
          `invalid container name "${name}": use letters, digits, _ . - (not starting with _ . -)`,
        );
      }
      if (this.find(name)?.name === name) {
        throw new ConflictError(
          `the name "${name}" is in use by a container: run 'burrow run ${name} ...' to use it, or remove it first`,
        );
      }
    }
    const id = randomHex(32);
    const tmp = path.join(this.dir, `.tmp-${id}`);
    fs.mkdirSync(tmp, { recursive: true });
    if (layer === "overlay") {
      fs.mkdirSync(path.join(tmp, "upper"));
      fs.mkdirSync(path.join(tmp, "work"));
    }
    const rec: ContainerRecord = { id, name, image, imageName, created: new Date().toISOString(), layer };
    writeFileAtomic(path.join(tmp, "container.json"), JSON.stringify(rec, null, 2) + "\n");
    fs.renameSync(tmp, this.path(id));
    return rec;
  }

  /**
   * Turns a container's (empty) overlay layer into a copy of the image, for an engine that cannot mount
   * an overlay. Refused once the layer holds changes: merging overlay whiteouts is not done here.
   */
  convertToCopy(
    id: string,
    imageRootfs: string,
    engine: string,
    copy: (from: string, to: string) => void,
  ): ContainerRecord {
    const rec = this.read(id);
    if (!rec) throw new InvalidArgumentError(`no container ${id}`);
    if (rec.layer === "copy") return rec;
    const dir = this.path(id);
    const upper = path.join(dir, "upper");
    if (fs.existsSync(upper) && hasOwnChanges(upper)) {
      throw new ConflictError(
        `container ${rec.name ?? id.slice(0, 12)} keeps changes in an overlay layer, which the ${engine} engine cannot use: run it with userns or runc, or export it and import it as a new container`,
      );
    }
    const tmp = path.join(dir, `.rootfs-${randomHex(4)}`);
    copy(imageRootfs, tmp);
    fs.renameSync(tmp, path.join(dir, "rootfs"));
    const next: ContainerRecord = { ...rec, layer: "copy" };
    writeFileAtomic(path.join(dir, "container.json"), JSON.stringify(next, null, 2) + "\n");
    removeTreeAtomic(upper);
    removeTreeAtomic(path.join(dir, "work"));
    return next;
  }

  /** Removes a container and its writable layer. */
  remove(id: string): void {
    removeTreeAtomic(this.path(id));
  }
}
