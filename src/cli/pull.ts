// `burrow pull`: fetches an image from a registry and flattens it into the store.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { debugWriter } from "../debug-line.js";
import type { CommandHost } from "./host.js";

/** Pulls one image (any registry; `--platform` picks from multi-platform images). */
export class PullCommand extends BurrowCommand {
  static override paths = [["pull"], ["image", "pull"]];
  static override usage = BurrowCommand.Usage({
    description: "Pull an image from a registry into the store",
    details:
      "References are parsed as docker does: `alpine` is `docker.io/library/alpine:latest`. Layers are downloaded in parallel, checked against their digests, and flattened once into the store.",
    examples: [
      ["Pull Alpine from Docker Hub", "$0 pull alpine"],
      ["Pull from a private registry", "$0 pull registry.example.org:5000/team/tool:1.2"],
      ["Pull for another platform", "$0 pull --platform linux/arm64 debian:bookworm"],
      ["udocker's form", "$0 pull --registry=https://registry.example.org team/tool:1.2"],
    ],
  });

  platform = Option.String("--platform", {
    description: "Platform to pull, OS/ARCH[/VARIANT] (default: this host)",
  });
  registry = Option.String("--registry", {
    description: "Registry to pull from (URL or host[:port]) when IMAGE has none",
  });
  image = Option.String({ name: "IMAGE" });

  async run(): Promise<number> {
    const result = await pullReference(this, this.image, this.platform, this.registry);
    if (this.quiet) {
      this.context.stdout.write(`${result.name}\n`);
    } else {
      this.context.stdout.write(`Digest: ${result.image.manifestDigest}\n`);
      this.context.stdout.write(
        result.status === "uptodate"
          ? `Status: Image is up to date for ${result.name}\n`
          : result.status === "offline"
            ? `Status: Image is in the store for ${result.name} (offline: not checked with the registry)\n`
            : `Status: Downloaded newer image for ${result.name}\n`,
      );
      this.context.stdout.write(`${result.name}\n`);
    }
    return 0;
  }
}

/** Pulls `image` for a command (progress on a terminal, cleanup on signals); used by pull and run. */
export async function pullReference(
  cmd: CommandHost,
  image: string,
  platformArg?: string,
  registryArg?: string,
): Promise<import("../pull.js").PullResult> {
  const { parseReference, parseRegistryArg } = await import("../registry/reference.js");
  const { parsePlatform, hostPlatform } = await import("../registry/platform.js");
  const platform = platformArg !== undefined ? parsePlatform(platformArg) : hostPlatform();
  const ref =
    registryArg !== undefined
      ? parseReference(image, { defaultRegistry: parseRegistryArg(registryArg).registry })
      : parseReference(image);
  const config = await cmd.config();
  const store = await cmd.store();
  if (config.offline) return storedWhileOffline(store, ref.toString(), image);
  const { makeRegistryClient } = await import("./registry-client.js");
  const client = await makeRegistryClient(config, store, registryArg, undefined, debugWriter(cmd));
  const { pullImage } = await import("../pull.js");
  const { PullProgress } = await import("./progress.js");
  const events = PullProgress.wanted(cmd.context.stderr, cmd.quiet)
    ? new PullProgress(cmd.context.stderr)
    : undefined;
  // Leave nothing half-built behind.
  const stopCleanup = await (await import("./interrupt.js")).removeStagingOnInterrupt();
  try {
    return await pullImage({
      store,
      client,
      ref,
      platform,
      concurrency: config.maxConcurrentDownloads,
      events,
      warn: (m) => cmd.warn(m),
      squashfs: await (
        await import("../store/squashfs.js")
      ).squashfsOutput(config.imageFormat, cmd.context.env, store.paths.root),
    });
  } finally {
    stopCleanup();
    client.close();
  }
}

/**
 * A pull while burrow is offline (`--offline`, BURROW_OFFLINE=1): the stored image of that name, else one
 * line saying that it is missing and what to do; nothing is asked of any registry.
 */
async function storedWhileOffline(
  store: import("../store/store.js").Store,
  name: string,
  typed: string,
): Promise<import("../pull.js").PullResult> {
  const ref = store.getRef(name);
  const image = ref ? store.readImage(ref.image) : undefined;
  if (image) return { image, name, status: "offline" };
  const { OfflineError } = await import("../errors.js");
  throw new OfflineError(
    `no image "${typed}" (${name}) in the store, and burrow is offline (--offline or BURROW_OFFLINE=1): ` +
      `pull it where the network is reachable, or bring it with 'burrow load'`,
  );
}
