// `burrow install`: downloads the pinned static PRoot/runc builds into the store's bin/, checksum-verified.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { debugWriter } from "../debug-line.js";

/** Fills the store's bin/ from the pinned manifest (vendor/manifest.json). */
export class InstallCommand extends BurrowCommand {
  static override paths = [["install"]];
  static override usage = BurrowCommand.Usage({
    description: "Download the engine binaries (static PRoot, runc) into the store",
    details: `
      Reads the pinned manifest (\`vendor/manifest.json\` in the package: name, version, platform, URL and sha256 of each binary) and downloads every binary listed for this platform into the store's \`bin/\`, where the engines look first after their override variables (BURROW_PROOT, BURROW_RUNC, BURROW_CRUN). Each download is checked against its sha256 while it streams and is put in place only when it matches; a mismatch installs nothing. A binary already there with the right checksum is skipped unless \`--force\`.

      Sites that mirror the binaries set BURROW_INSTALL_URL: each binary is then fetched from \`$BURROW_INSTALL_URL/NAME-VERSION-PLATFORM\` (e.g. \`runc-1.2.5-linux-x64\`), still checked against the pinned sha256. Mirrors of a download host (BURROW_REGISTRY_MIRRORS or the config file's \`mirrors\`, e.g. \`github.com=https://mirror.example.org/github\`) are tried first with the same path under the mirror's URL, then the host itself unless the rule says nofallback. HTTPS_PROXY, NO_PROXY and NODE_EXTRA_CA_CERTS apply as for pulls.
    `,
    examples: [
      ["Install PRoot and runc for this machine", "$0 install"],
      ["Download them again", "$0 install --force"],
      [
        "Only runc, from a site mirror",
        "BURROW_INSTALL_URL=https://mirror.example.org/burrow $0 install runc",
      ],
    ],
  });

  force = Option.Boolean("--force", false, { description: "Download even what is already installed" });
  names = Option.Rest({ name: "NAME" });

  async run(): Promise<number> {
    const config = await this.config();
    const store = await this.store();
    const { isInsecureRegistry } = await import("../config.js");
    const { packageRoot, packageVersion } = await import("../package-info.js");
    const { installBinaries } = await import("../install/install.js");
    const env = this.context.env;
    await installBinaries({
      storeRoot: store.paths.root,
      packageRoot: packageRoot(),
      env,
      force: this.force,
      names: this.names,
      mirrors: config.mirrors,
      fetch: {
        offline: config.offline,
        proxy: { httpsProxy: config.httpsProxy, httpProxy: config.httpProxy, noProxy: config.noProxy },
        insecure: (host) => isInsecureRegistry(config, host),
        userAgent: `burrow/${packageVersion()} node/${process.version}`,
        debug: debugWriter(this),
      },
      onOutcome: (o) => {
        if (this.quiet) return;
        const what = `${o.entry.name} ${o.entry.version} (${o.entry.platform})`;
        const line =
          o.action === "skipped"
            ? `${what}: already installed in ${o.dest} with the pinned checksum; skipped (--force downloads it again)`
            : `${what}: ${o.action} ${o.dest} from ${o.url}`;
        this.context.stdout.write(line + "\n");
      },
    });
    return 0;
  }
}
