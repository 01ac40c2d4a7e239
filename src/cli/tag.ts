// `burrow tag`: gives a local image another name.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { resolveLocalImage } from "./resolve.js";
import { parseReference } from "../registry/reference.js";

/** Points a new name at an existing local image. */
export class TagCommand extends BurrowCommand {
  static override paths = [["tag"], ["image", "tag"]];
  static override usage = BurrowCommand.Usage({
    description: "Give a local image another name",
    examples: [["Name an image myimg:1", "$0 tag alpine:3.20 myimg:1"]],
  });

  source = Option.String({ name: "SOURCE" });
  target = Option.String({ name: "TARGET" });

  async run(): Promise<number> {
    const store = await this.store();
    const { image, ref } = resolveLocalImage(store, this.source);
    const target = parseReference(this.target);
    if (target.digest !== undefined) {
      const { UsageError } = await import("clipanion");
      throw new UsageError(`cannot tag with a digest ("${this.target}"): give a name with a tag`);
    }
    store.setRef(target.toString(), image.id, ref?.manifestDigest ?? image.manifestDigest);
    return 0;
  }
}
