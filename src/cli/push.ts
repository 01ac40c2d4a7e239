// `burrow push`: sends an image from the store to a registry (the blobs it lacks, then the manifest).
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { debugWriter } from "../debug-line.js";
import { resolveLocalImage } from "./resolve.js";
import { InvalidArgumentError } from "../errors.js";

/** Pushes one image under its own name or DEST; blobs the registry has are not sent again. */
export class PushCommand extends BurrowCommand {
  static override paths = [["push"], ["image", "push"]];
  static override usage = BurrowCommand.Usage({
    description: "Push an image from the store to a registry",
    details:
      "Sends the image's manifest as it was pulled, byte for byte (so its digest stays the same), after the blobs the registry lacks: a blob it has is not sent again, one in the repository the image came from on the same registry is mounted, others are uploaded (in chunks above 64 MiB). Credentials come from `burrow login`. DEST pushes under another name.",
    examples: [
      ["Push an image under its name", "$0 push registry.example.org/lab/tool:2"],
      ["Push under another name", "$0 push alpine registry.example.org/lab/alpine:3"],
    ],
  });

  image = Option.String({ name: "IMAGE" });
  dest = Option.String({ name: "DEST", required: false });

  async run(): Promise<number> {
    const store = await this.store();
    const { image } = resolveLocalImage(store, this.image);
    const { parseReference } = await import("../registry/reference.js");
    const target = this.dest ?? this.image;
    let dest;
    try {
      dest = parseReference(target);
    } catch (err) {
      if (this.dest === undefined) {
        throw new InvalidArgumentError(
          `"${this.image}" is not a name to push to: give DEST (burrow push IMAGE DEST)`,
        );
      }
      throw err;
    }
    const config = await this.config();
    const { makeRegistryClient } = await import("./registry-client.js");
    const client = await makeRegistryClient(config, store, undefined, undefined, debugWriter(this));
    const { pushImage } = await import("../push.js");
    const { PushProgress } = await import("./push-progress.js");
    const progress = this.quiet ? undefined : new PushProgress(this.context.stderr);
    try {
      const result = await pushImage({
        store,
        client,
        image,
        dest,
        concurrency: config.maxConcurrentDownloads,
        ...(progress ? { events: progress } : {}),
        chunkBytes: chunkBytes(this.context.env.BURROW_PUSH_CHUNK_MIB),
      });
      if (this.quiet) {
        this.context.stdout.write(`${dest.name}\n`);
      } else {
        const label = dest.digest ?? dest.tag ?? "latest";
        this.context.stdout.write(
          `${label}: digest: ${result.manifestDigest} size: ${result.manifestSize}\n`,
        );
      }
    } finally {
      client.close();
    }
    return 0;
  }
}

/** BURROW_PUSH_CHUNK_MIB: blobs larger than N MiB go in N MiB chunks (for registries or proxies that limit a request's size). */
function chunkBytes(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^[1-9]\d{0,5}$/.test(value))
    throw new InvalidArgumentError(`BURROW_PUSH_CHUNK_MIB=${value}: give a whole number of MiB, such as 32`);
  return Number(value) * 1024 * 1024;
}
