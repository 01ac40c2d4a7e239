// `burrow verify`: re-hashes an image's blobs and checks its rootfs is complete.
import fs from "node:fs";
import { createHash } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { resolveLocalImage } from "./resolve.js";
import { summarizeTree } from "../store/summary.js";
import type { Store, ImageRecord } from "../store/store.js";

/** The sha256 of a file, streamed. */
async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), h);
  return `sha256:${h.digest("hex")}`;
}

/** Lists what is wrong with an image: missing or altered blobs, a rootfs that changed since the pull. */
export async function verifyImage(store: Store, image: ImageRecord): Promise<string[]> {
  const problems: string[] = [];
  const blobs = [
    { what: "config", digest: image.configDigest },
    { what: "manifest", digest: image.manifestDigest },
    ...image.layers.map((l, i) => ({ what: `layer ${i + 1}`, digest: l.digest })),
  ];
  for (const b of blobs) {
    const file = store.blobPath(b.digest);
    if (!fs.existsSync(file)) {
      problems.push(`${b.what} ${b.digest} is missing`);
      continue;
    }
    const got = await sha256File(file);
    if (got !== b.digest) problems.push(`${b.what} ${b.digest} is corrupt (its content hashes to ${got})`);
  }
  const root = store.rootfs(image.id);
  if (!fs.existsSync(root)) {
    problems.push(`rootfs ${root} is missing`);
  } else {
    const now = summarizeTree(root);
    const was = image.rootfs;
    for (const k of ["files", "dirs", "symlinks", "bytes"] as const) {
      if (now[k] !== was[k]) problems.push(`rootfs has ${now[k]} ${k}, the pull left ${was[k]}`);
    }
  }
  return problems;
}

/** Checks images; exit status 1 when any is damaged. */
export class VerifyCommand extends BurrowCommand {
  static override paths = [["verify"]];
  static override usage = BurrowCommand.Usage({
    description: "Check that images are intact: blobs match their digests and the rootfs is complete",
    examples: [["Verify an image", "$0 verify alpine"]],
  });

  targets = Option.Rest({ name: "IMAGE", required: 1 });

  async run(): Promise<number> {
    const store = await this.store();
    let status = 0;
    for (const t of this.targets) {
      const { image } = resolveLocalImage(store, t);
      const problems = await verifyImage(store, image);
      if (problems.length === 0) {
        this.context.stdout.write(`${t}: OK\n`);
      } else {
        status = 1;
        this.context.stdout.write(`${t}: DAMAGED\n`);
        for (const p of problems) this.context.stdout.write(`  ${p}\n`);
        this.context.stderr.write(`burrow: ${t} is damaged: run 'burrow rmi ${t}' and pull it again\n`);
      }
    }
    return status;
  }
}
