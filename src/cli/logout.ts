// `burrow logout`: forgets stored registry credentials.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Removes the credentials of one registry, or of all with -a. */
export class LogoutCommand extends BurrowCommand {
  static override paths = [["logout"]];
  static override usage = BurrowCommand.Usage({
    description: "Forget the stored credentials of a registry (default: Docker Hub)",
    details: "Only burrow's own credentials file is changed; docker's config.json is left alone.",
    examples: [
      ["Log out of a registry", "$0 logout registry.example.org"],
      ["Log out of every registry", "$0 logout -a"],
    ],
  });

  all = Option.Boolean("-a,--all", false, { description: "Forget the credentials of every registry" });
  registryOpt = Option.String("--registry", { description: "Registry URL or host[:port]" });
  registryArg = Option.String({ name: "REGISTRY", required: false });

  async run(): Promise<number> {
    const { UsageError } = await import("clipanion");
    const raw = this.registryOpt ?? this.registryArg;
    if (this.all && raw !== undefined) throw new UsageError("give either -a or a registry, not both");
    const store = await this.store();
    const { removeCredentials, removeAllCredentials } = await import("../registry/credentials.js");
    if (this.all) {
      const n = removeAllCredentials(store.paths.root).length;
      this.context.stdout.write(`Removed the credentials of ${n} registr${n === 1 ? "y" : "ies"}\n`);
      return 0;
    }
    const { parseRegistryArg, DOCKER_HUB } = await import("../registry/reference.js");
    const registry = raw === undefined ? DOCKER_HUB : parseRegistryArg(raw).registry;
    if (removeCredentials(store.paths.root, registry)) {
      this.context.stdout.write(`Removing login credentials for ${registry}\n`);
    } else {
      this.context.stdout.write(`Not logged in to ${registry}\n`);
    }
    return 0;
  }
}
