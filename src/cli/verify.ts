// `burrow verify`: re-hashes an image's blobs and checks its rootfs is complete.
import fs from "node:fs";
import { createHash } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { resolveLocalImage } from "./resolve.js";
import { checkRootfs, fileTampering } from "../store/tamper.js";
import type { Owner } from "../store/tamper.js";
import type { Store, ImageRecord } from "../store/store.js";
import { containerLabel } from "../store/containers.js";
import { printable } from "./printable.js";
import type { ContainerRecord } from "../store/containers.js";

/** The sha256 of a file, streamed. */
async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), h);
  return `sha256:${h.digest("hex")}`;
}

/**
 * Lists what is wrong with an image: missing or altered blobs, a rootfs that changed since the pull, and
 * signs of tampering (links swapped in, files of other users: src/store/tamper.ts).
 */
export async function verifyImage(store: Store, image: ImageRecord, owner?: Owner): Promise<string[]> {
  const who: Owner = owner ?? { uid: process.getuid?.() ?? 0 };
  const problems: string[] = [];
  const blobs = [
    { what: "config", digest: image.configDigest },
    { what: "manifest", digest: image.manifestDigest },
    ...image.layers.map((l, i) => ({ what: `layer ${i + 1}`, digest: l.digest })),
  ];
  const intact = new Set<string>();
  for (const b of blobs) {
    const file = store.blobPath(b.digest);
    if (!fs.existsSync(file)) {
      problems.push(`${b.what} ${b.digest} is missing`);
      continue;
    }
    const tampered = fileTampering(file, who);
    if (tampered !== undefined) {
      problems.push(`${b.what} ${b.digest} ${tampered}`);
      continue;
    }
    let got: string;
    try {
      got = await sha256File(file);
    } catch (err) {
      problems.push(
        `${b.what} ${b.digest} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      );
      continue;
    }
    if (got !== b.digest) {
      problems.push(
        `${b.what} ${b.digest} is corrupt (its content hashes to ${got}): damaged, or tampered with`,
      );
    } else intact.add(b.digest);
  }
  problems.push(...(await imageConsistency(store, image, intact)));
  const layersSound = problems.length === 0;
  if (image.format === "squashfs") {
    problems.push(...(await squashfsProblems(store, image, who)));
    return problems;
  }
  const root = store.rootfs(image.id);
  const checked = checkRootfs(store.imageDir(image.id), who);
  problems.push(...checked.problems);
  if (checked.summary === undefined) {
    if (checked.problems.length === 0) problems.push(`rootfs ${root} is missing`);
  } else {
    const now = checked.summary;
    const was = image.rootfs;
    for (const k of ["files", "dirs", "symlinks", "bytes"] as const) {
      if (now[k] !== was[k]) problems.push(`rootfs has ${now[k]} ${k}, the pull left ${was[k]}`);
    }
    // Counts miss a file rewritten to the same size: the layers, once sound, are flattened again to compare.
    if (layersSound) {
      const { rootfsDifferences } = await import("../image/rootfs-check.js");
      problems.push(...(await rootfsDifferences(store, image)));
    }
  }
  return problems;
}

/**
 * Whether the intact blobs describe this image: the manifest names its config and layers, and each layer's
 * uncompressed content is the one the config's diff_ids name (the image id is the config's digest, so a
 * rootfs flattened from other layers is not this image).
 */
async function imageConsistency(store: Store, image: ImageRecord, intact: Set<string>): Promise<string[]> {
  const problems: string[] = [];
  const { configDiffIds, layerCountProblem, blobDiffId } = await import("../image/diff-ids.js");
  if (intact.has(image.manifestDigest)) {
    let manifest: { config?: { digest?: unknown }; layers?: { digest?: unknown }[] } | undefined;
    try {
      manifest = JSON.parse(store.readBlob(image.manifestDigest)!.toString("utf8")) as typeof manifest;
    } catch {
      problems.push(`manifest ${image.manifestDigest} is not JSON`);
    }
    const named = Array.isArray(manifest?.layers) ? manifest.layers.map((l) => l?.digest) : [];
    if (manifest && manifest.config?.digest !== image.configDigest)
      problems.push(`the manifest names another config than ${image.configDigest}`);
    if (
      manifest &&
      (named.length !== image.layers.length || named.some((d, i) => d !== image.layers[i]!.digest))
    )
      problems.push(`the manifest names other layers than the image record`);
  }
  if (!intact.has(image.configDigest)) return problems;
  let diffIds: string[];
  try {
    diffIds = configDiffIds(store.readBlob(image.configDigest)!, (why) => new Error(`config ${why}`));
  } catch (err) {
    return [...problems, (err as Error).message];
  }
  const count = layerCountProblem(image.layers.length, diffIds);
  if (count !== undefined)
    return [...problems, `${count}: the layers are not the image its config describes`];
  for (const [i, layer] of image.layers.entries()) {
    if (!intact.has(layer.digest)) continue;
    let got: string;
    try {
      got = await blobDiffId(store.blobPath(layer.digest));
    } catch (err) {
      problems.push(`layer ${i + 1} ${layer.digest} cannot be read: ${(err as Error).message}`);
      continue;
    }
    if (got !== diffIds[i])
      problems.push(
        `layer ${i + 1} ${layer.digest} is not the layer the config names: its uncompressed content hashes ` +
          `to ${got}, the config's diff_id is ${diffIds[i]} (tampered with, or forged from another image's config)`,
      );
  }
  return problems;
}

/** Checks images (and the images containers use); exit status 1 when any is damaged. */
export class VerifyCommand extends BurrowCommand {
  static override paths = [["verify"]];
  static override usage = BurrowCommand.Usage({
    description:
      "Check that images are intact: blobs match their digests, layers their config's diff_ids, and the rootfs its layers",
    details: `
      TARGET is an image, or a container (its image is checked, and that its own layer is there). With no TARGET every image and every container is checked: each blob against its digest, each layer's uncompressed content against the diff_id its config gives it, and the rootfs against its layers flattened afresh (this needs room for one more copy of the image while it runs). Exit status 1 when something is damaged or was tampered with.
    `,
    examples: [
      ["Verify an image", "$0 verify alpine"],
      ["Verify a container's image", "$0 verify dev"],
      ["Verify the whole store", "$0 verify"],
    ],
  });

  targets = Option.Rest({ name: "TARGET" });

  async run(): Promise<number> {
    const store = await this.store();
    const { processTrust } = await import("../store/trust.js");
    const trust = processTrust((await this.config()).sharedGroup);
    const owner: Owner = { uid: trust.uid, sharedGid: trust.sharedGid };
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(store);
    // Each image is checked once, however many targets and containers use it.
    const checked = new Map<string, Promise<string[]>>();
    const problemsOf = (image: ImageRecord): Promise<string[]> => {
      let p = checked.get(image.id);
      if (p === undefined) checked.set(image.id, (p = verifyImage(store, image, owner)));
      return p;
    };
    const containerProblems = async (c: ContainerRecord): Promise<string[]> => {
      const image = store.readImage(c.image);
      const out: string[] = [];
      if (!image) out.push(`its image ${c.image.slice(0, 12)} is gone from the store`);
      else out.push(...(await problemsOf(image)).map((p) => `image ${c.image.slice(0, 12)}: ${p}`));
      if (!fs.existsSync(containers.layerPath(c)))
        out.push(`its own layer ${containers.layerPath(c)} is missing`);
      return out;
    };
    const items: { label: string; problems: () => Promise<string[]>; fix: string }[] = [];
    if (this.targets.length === 0) {
      for (const image of store.listImages()) {
        const label = image.id.slice(0, 12);
        items.push({
          label,
          problems: () => problemsOf(image),
          fix: `run 'burrow rmi ${label}' and pull it again`,
        });
      }
      for (const c of containers.list()) {
        const label = `container ${containerLabel(c)}`;
        items.push({ label, problems: () => containerProblems(c), fix: "pull its image again" });
      }
    } else {
      for (const t of this.targets) {
        const c = containers.find(t);
        if (c) {
          items.push({ label: t, problems: () => containerProblems(c), fix: "pull its image again" });
        } else {
          const { image } = resolveLocalImage(store, t);
          items.push({
            label: t,
            problems: () => problemsOf(image),
            fix: `run 'burrow rmi ${t}' and pull it again`,
          });
        }
      }
    }
    let status = 0;
    for (const item of items) {
      const problems = await item.problems();
      if (problems.length === 0) {
        this.context.stdout.write(`${item.label}: OK\n`);
      } else {
        status = 1;
        this.context.stdout.write(`${item.label}: DAMAGED\n`);
        for (const p of problems) this.context.stdout.write(`  ${printable(p)}\n`);
        this.context.stderr.write(`burrow: ${item.label} is damaged: ${item.fix}\n`);
      }
    }
    return status;
  }
}

/**
 * What is wrong with an image kept as a SquashFS file: the file and its facts missing, not SquashFS, or
 * tampered with (a link, another user's file). Its files are not compared one by one: the file is read-only
 * and mounted only inside the containers.
 */
async function squashfsProblems(store: Store, image: ImageRecord, who: Owner): Promise<string[]> {
  const { FACTS_FILE, SQUASHFS_FILE, isSquashfsFile, readFacts, squashfsShortfall } =
    await import("../store/squashfs.js");
  const problems: string[] = [];
  const file = `${store.imageDir(image.id)}/${SQUASHFS_FILE}`;
  if (!fs.existsSync(file)) return [`its SquashFS file ${file} is missing`];
  const tampered = fileTampering(file, who);
  if (tampered !== undefined) problems.push(`its SquashFS file ${tampered}`);
  else if (!isSquashfsFile(file)) problems.push(`${file} is not a SquashFS file`);
  else {
    const short = squashfsShortfall(file);
    if (short !== undefined) problems.push(`its SquashFS file ${file} is cut short: ${short}`);
  }
  try {
    readFacts(`${store.imageDir(image.id)}/${FACTS_FILE}`);
  } catch (err) {
    problems.push((err as Error).message.replace(/: remove the image.*$/, ""));
  }
  return problems;
}
