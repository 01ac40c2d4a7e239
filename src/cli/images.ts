// `burrow images`: the images in the store, with their names, ids, age and size.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { formatOption, outputFormat } from "./output-format.js";
import { humanSize, table, timeAgo } from "./format.js";
import { familiarName } from "./format.js";
import { printableJson } from "./printable.js";

/** Lists images (one row per name; unnamed images show as <none>). */
export class ImagesCommand extends BurrowCommand {
  static override paths = [["images"], ["image", "ls"]];
  static override usage = BurrowCommand.Usage({
    description: "List the images in the store",
    examples: [
      ["List images", "$0 images"],
      ["List images with their layers", "$0 images -l"],
      ["As JSON", "$0 images --format json"],
    ],
  });

  long = Option.Boolean("-l,--long", false, { description: "Also list each image's layers and their sizes" });
  format = formatOption();

  async run(): Promise<number> {
    const format = outputFormat(this.format);
    const store = await this.store();
    const refs = store.listRefs();
    // An image rmi removed while runs still use it is gone for the user (src/store/holds.ts).
    const { removedImages } = await import("../store/holds.js");
    const removed = removedImages(store);
    const images = store.listImages().filter((i) => !removed.has(i.id) || refs.some((r) => r.image === i.id));
    const byImage = new Map<string, string[]>();
    for (const r of refs) byImage.set(r.image, [...(byImage.get(r.image) ?? []), r.name]);
    // The site stores' images (searched before these by run), each with its names there and where it lives.
    const { stores } = await this.config();
    const { siteImages } = await import("../store/site-stores.js");
    const sites = siteImages(stores);
    const siteNames = new Map<string, Map<string, string[]>>();
    for (const { store: s } of sites) {
      if (siteNames.has(s.paths.root)) continue;
      const m = new Map<string, string[]>();
      for (const r of s.listRefs()) m.set(r.image, [...(m.get(r.image) ?? []), r.name]);
      siteNames.set(s.paths.root, m);
    }
    const all = [
      ...images.map((image) => ({ image, names: byImage.get(image.id) ?? [], where: store.paths.root })),
      ...sites.map(({ image, store: s }) => ({
        image,
        names: siteNames.get(s.paths.root)?.get(image.id) ?? [],
        where: s.paths.root,
      })),
    ];
    if (format === "json") {
      const out = all.map(({ image: i, names, where }) => ({
        id: `sha256:${i.id}`,
        names,
        created: i.pulledAt,
        size: i.rootfs.bytes,
        platform: i.platform,
        layers: i.layers,
        format: i.format ?? "dir",
        store: where,
      }));
      this.context.stdout.write(printableJson(out) + "\n");
      return 0;
    }
    // With site stores, a STORE column says where each image lives (docker's five columns otherwise).
    const withStore = stores.length > 0;
    const rows: string[][] = [
      ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", ...(withStore ? ["STORE"] : [])],
    ];
    const sorted = [...all].sort((a, b) => b.image.pulledAt.localeCompare(a.image.pulledAt));
    for (const { image: img, names, where } of sorted) {
      const cells = names.length > 0 ? names.map(splitName) : [["<none>", "<none>"]];
      const storeCell = withStore ? [where === store.paths.root ? "(yours)" : where] : [];
      for (const [repo, tag] of cells) {
        rows.push([
          repo!,
          tag!,
          img.id.slice(0, 12),
          timeAgo(img.pulledAt),
          humanSize(img.rootfs.bytes),
          ...storeCell,
        ]);
        if (this.long) {
          for (const l of img.layers) rows.push(["", "", `  ${l.digest}`, "", humanSize(l.size)]);
        }
      }
    }
    this.context.stdout.write(table(rows));
    return 0;
  }
}

/** Splits a stored name into the REPOSITORY and TAG columns (digest names show the digest as tag). */
function splitName(name: string): [string, string] {
  const at = name.indexOf("@");
  if (at >= 0) return [familiarName(name.slice(0, at)), name.slice(at + 1)];
  const colon = name.lastIndexOf(":");
  const slash = name.lastIndexOf("/");
  if (colon > slash) return [familiarName(name.slice(0, colon)), name.slice(colon + 1)];
  return [familiarName(name), "<none>"];
}
