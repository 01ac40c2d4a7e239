// Named containers: a persistent writable layer over a shared image, under containers/<id>/.
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
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
    const id = randomBytes(32).toString("hex");
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

  /** Removes a container and its writable layer. */
  remove(id: string): void {
    removeTreeAtomic(this.path(id));
  }
}
