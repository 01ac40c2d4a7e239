// `burrow protect`: a container that `rm` refuses, or an image that `rmi` (even -f) refuses.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Sets or clears the protection of a container (looked up first) or an image; says which it was. */
export async function setProtection(cmd: BurrowCommand, key: string, on: boolean): Promise<number> {
  const store = await cmd.store();
  const { containersOf } = await import("./containers.js");
  const containers = await containersOf(store);
  const rec = containers.find(key);
  if (rec) {
    containers.setProtected(rec.id, on);
    cmd.info(`container ${key} ${on ? "protected" : "unprotected"}`);
    return 0;
  }
  const { resolveLocalImage } = await import("./resolve.js");
  const { ImageNotFoundError, InvalidArgumentError } = await import("../errors.js");
  let image;
  try {
    image = resolveLocalImage(store, key).image;
  } catch (err) {
    if (!(err instanceof ImageNotFoundError)) throw err;
    throw new InvalidArgumentError(
      `no container or image "${key}": 'burrow ps' lists containers, 'burrow images' images`,
    );
  }
  const { setImageProtected } = await import("../store/protection.js");
  setImageProtected(store, image.id, on);
  cmd.info(`image ${key} ${on ? "protected" : "unprotected"}`);
  return 0;
}

/** Protects a container or an image from removal. */
export class ProtectCommand extends BurrowCommand {
  static override paths = [["protect"]];
  static override usage = BurrowCommand.Usage({
    description: "Protect a container or an image from removal",
    details:
      "A protected container is refused by `rm` (and `run --rm`); a protected image by `rmi`, also `rmi -f`. Containers are looked up first, then images. `burrow unprotect` lifts it.",
    examples: [
      ["Protect a container", "$0 protect dev"],
      ["Protect an image", "$0 protect alpine:3.20"],
    ],
  });

  target = Option.String({ name: "CONTAINER|IMAGE" });

  async run(): Promise<number> {
    return setProtection(this, this.target, true);
  }
}
