// `burrow history`: an image's steps, newest first, as docker's `history` prints them.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { formatOption, outputFormat } from "./output-format.js";
import { resolveLocalImage } from "./resolve.js";
import { printableJson } from "./printable.js";
import { table } from "./format.js";
import { StoreError } from "../errors.js";
import type { Store, ImageRecord } from "../store/store.js";

/** Prints one row per step of an image config's history: id, created, created by, size, comment. */
export class HistoryCommand extends BurrowCommand {
  static override paths = [["history"], ["image", "history"]];
  static override usage = BurrowCommand.Usage({
    description: "Show the steps an image was made of",
    details:
      "One row per entry of the image config's history, newest first, as docker prints it: the newest step shows the image id, earlier ones <missing>; SIZE is the uncompressed size of the step's layer (0B for a step that changed only the config).",
    examples: [
      ["Show an image's steps", "$0 history alpine"],
      ["Without cutting CREATED BY", "$0 history --no-trunc alpine"],
      ["As JSON", "$0 history --format json alpine"],
    ],
  });

  noTrunc = Option.Boolean("--no-trunc", false, { description: "Do not cut CREATED BY to 45 characters" });
  format = formatOption();
  image = Option.String({ name: "IMAGE" });

  async run(): Promise<number> {
    const format = outputFormat(this.format);
    const store = await this.store();
    const { image } = resolveLocalImage(store, this.image);
    const configBlob = store.readBlob(image.configDigest);
    if (!configBlob) {
      throw new StoreError(
        `image ${image.id.slice(0, 12)} is missing its config: run 'burrow verify ${this.image}' then pull it again`,
      );
    }
    const { configHistory, historyRows, createdAgo, createdByCell, historySize } =
      await import("../image/history-rows.js");
    const config = JSON.parse(configBlob.toString("utf8")) as unknown;
    const sizes = await layerSizes(store, image);
    const id = this.noTrunc || format === "json" ? image.configDigest : image.id.slice(0, 12);
    const rows = historyRows(id, configHistory(config), sizes);
    if (format === "json") {
      const out = rows.map((r) => ({
        id: r.id,
        created: r.created ?? null,
        createdSince: createdAgo(r.created),
        createdBy: r.createdBy,
        size: r.size,
        comment: r.comment,
      }));
      this.context.stdout.write(printableJson(out) + "\n");
      return 0;
    }
    const lines: string[][] = [["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]];
    for (const r of rows) {
      lines.push([
        r.id,
        createdAgo(r.created),
        createdByCell(r.createdBy, this.noTrunc),
        historySize(r.size),
        r.comment,
      ]);
    }
    this.context.stdout.write(table(lines));
    return 0;
  }
}

/** The uncompressed size of each of an image's layers, read from its stored blobs (0 for a missing one). */
async function layerSizes(store: Store, image: ImageRecord): Promise<number[]> {
  const { decompressFile, readHead, sniffCompression } = await import("../image/decompress.js");
  const sizes: number[] = [];
  for (const layer of image.layers) {
    const file = store.blobPath(layer.digest);
    if (!store.hasBlob(layer.digest)) {
      sizes.push(0);
      continue;
    }
    let n = 0;
    for await (const chunk of decompressFile(file, sniffCompression(readHead(file, 8)))) n += chunk.length;
    sizes.push(n);
  }
  return sizes;
}
