// `burrow showconf`: the configuration in force and where each value came from.
import { BurrowCommand } from "./base.js";
import { formatOption, outputFormat } from "./output-format.js";
import { printableJson } from "./printable.js";
import { formatMirrorRule } from "../registry/mirrors.js";

/** Hides the password of a proxy URL such as `http://user:secret@proxy:3128`. */
export function maskUrlPassword(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const u = new URL(value);
    if (u.password === "") return value;
    u.password = "****";
    return u.toString();
  } catch {
    return value.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:****@");
  }
}

/** Prints the effective configuration (credentials are never shown). */
export class ShowconfCommand extends BurrowCommand {
  static override paths = [["showconf"]];
  static override usage = BurrowCommand.Usage({
    description: "Show the configuration in force and where each value comes from",
    examples: [
      ["Show the configuration", "$0 showconf"],
      ["As JSON", "$0 showconf --format json"],
    ],
  });

  format = formatOption();

  async run(): Promise<number> {
    const format = outputFormat(this.format);
    const config = await this.config();
    const rows: [string, unknown][] = [
      ["storeDir", config.storeDir],
      ["insecureRegistries", config.insecureRegistries],
      ["insecureAll", config.insecureAll],
      ["dockerConfigDir", config.dockerConfigDir],
      ["httpsProxy", maskUrlPassword(config.httpsProxy)],
      ["httpProxy", maskUrlPassword(config.httpProxy)],
      ["noProxy", config.noProxy],
      ["maxConcurrentDownloads", config.maxConcurrentDownloads],
      ["engine", config.engine],
      ["mirrors", config.mirrors.map(formatMirrorRule)],
      ["offline", config.offline],
    ];
    if (format === "json") {
      const out: Record<string, unknown> = { configFile: config.configFile };
      for (const [k, v] of rows) out[k] = { value: v ?? null, source: config.sources[k] };
      this.context.stdout.write(printableJson(out) + "\n");
      return 0;
    }
    this.context.stdout.write(`configFile: ${config.configFile}\n`);
    for (const [k, v] of rows) {
      // Mirror rules hold comma lists of their own: they are separated as BURROW_REGISTRY_MIRRORS separates them.
      const shown = Array.isArray(v) ? v.join(k === "mirrors" ? ";" : ",") : v === undefined ? "" : String(v);
      this.context.stdout.write(`${k}: ${shown}  (${config.sources[k]})\n`);
    }
    return 0;
  }
}
