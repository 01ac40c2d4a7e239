// `burrow search`: searches Docker Hub (or a mirror of its search API), or lists a repository's tags.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { formatOption, outputFormat } from "./output-format.js";
import type { OutputFormat } from "./output-format.js";
import { debugWriter } from "../debug-line.js";
import { printable, printableJson } from "./printable.js";

/** Searches the image index for TERM, or with `--list-tags` lists the tags of a repository on any registry. */
export class SearchCommand extends BurrowCommand {
  static override paths = [["search"]];
  static override usage = BurrowCommand.Usage({
    description: "Search Docker Hub for images, or list the tags of a repository",
    details:
      "`search TERM` asks Docker Hub's search API (index.docker.io/v1/search); `--index URL` or BURROW_SEARCH_URL point it at a mirror that answers the same API. `search --list-tags IMAGE` lists the tags of a repository on any v2 registry through the tags API, following its pages, with the credentials of `burrow login`.",
    examples: [
      ["Search Docker Hub", "$0 search alpine"],
      ["Official images only, full descriptions", "$0 search --filter is-official=true --no-trunc python"],
      ["As JSON, at most 5", "$0 search --format json --limit 5 busybox"],
      ["List the tags of a repository", "$0 search --list-tags registry.example.org:5000/team/tool"],
      ["udocker's form", "$0 search --list-tags --registry=https://registry.example.org team/tool"],
    ],
  });

  listTags = Option.Boolean("--list-tags,--tags", false, {
    description: "List the tags of the repository named (on any registry) instead of searching",
  });
  limit = Option.String("--limit", { description: "Show at most N results (1 to 100, default 25)" });
  filter = Option.Array("-f,--filter", {
    description:
      "Keep only results with stars=N (at least), is-official=true|false or is-automated=true|false",
  });
  noTrunc = Option.Boolean("--no-trunc", false, { description: "Do not cut descriptions short" });
  format = formatOption();
  index = Option.String("--index", {
    description: "Search API to ask (default: $BURROW_SEARCH_URL, else https://index.docker.io)",
  });
  registry = Option.String("--registry", {
    description: "With --list-tags: the registry of a name that names none (URL or host[:port])",
  });
  pageSize = Option.String("--page-size", {
    description: "With --list-tags: tags asked for per page (default 1000; the registry may send fewer)",
  });
  all = Option.Boolean("-a,--all", false, {
    description: "Accepted for udocker's scripts: everything is printed without pausing",
  });
  term = Option.String({ name: "TERM" });

  async run(): Promise<number> {
    const format = outputFormat(this.format);
    const { InvalidArgumentError } = await import("../errors.js");
    if (this.listTags) {
      for (const [given, name] of [
        [this.limit, "--limit"],
        [this.filter, "--filter"],
        [this.index, "--index"],
      ] as const) {
        if (given !== undefined) {
          throw new InvalidArgumentError(`${name} is for searching: leave it out with --list-tags`);
        }
      }
      return this.runListTags(format);
    }
    for (const [given, name] of [
      [this.registry, "--registry"],
      [this.pageSize, "--page-size"],
    ] as const) {
      if (given !== undefined) throw new InvalidArgumentError(`${name} goes with --list-tags`);
    }
    return this.runSearch(format);
  }

  /** `search TERM`: the search API, then docker's filters, table or JSON. */
  private async runSearch(format: OutputFormat): Promise<number> {
    const { InvalidArgumentError } = await import("../errors.js");
    const hub = await import("../search/hub.js");
    const { applySearchFilter, parseSearchFilters, searchJson, searchTable } =
      await import("../search/results.js");
    const term = this.term.trim();
    if (term.length === 0) throw new InvalidArgumentError("give a search term: burrow search TERM");
    let limit = hub.DEFAULT_SEARCH_LIMIT;
    if (this.limit !== undefined) {
      limit = /^\d+$/.test(this.limit) ? Number(this.limit) : Number.NaN;
      if (!(limit >= 1 && limit <= hub.MAX_SEARCH_LIMIT)) {
        throw new InvalidArgumentError(
          `invalid --limit "${this.limit}": give a number from 1 to ${hub.MAX_SEARCH_LIMIT}`,
        );
      }
    }
    const filter = parseSearchFilters(this.filter ?? []);
    const config = await this.config();
    if (config.offline) {
      const { OfflineError } = await import("../errors.js");
      throw new OfflineError(
        "burrow is offline (--offline or BURROW_OFFLINE=1): searching needs the network; unset it to search",
      );
    }
    const env = this.context.env.BURROW_SEARCH_URL;
    const baseUrl =
      this.index ?? (env !== undefined && env.trim() !== "" ? env.trim() : hub.DEFAULT_SEARCH_URL);
    const endpoint = hub.searchEndpoint(baseUrl, term, limit);
    const { isInsecureRegistry } = await import("../config.js");
    const { packageVersion } = await import("../package-info.js");
    const results = await hub.searchHub({
      baseUrl,
      term,
      limit,
      insecure: isInsecureRegistry(config, endpoint.host),
      proxy: { httpsProxy: config.httpsProxy, httpProxy: config.httpProxy, noProxy: config.noProxy },
      userAgent: `burrow/${packageVersion()} node/${process.version}`,
      debug: debugWriter(this),
    });
    const shown = applySearchFilter(results, filter);
    this.context.stdout.write(format === "json" ? searchJson(shown) : searchTable(shown, this.noTrunc));
    return 0;
  }

  /** `search --list-tags IMAGE`: the registry's tags API, every page. */
  private async runListTags(format: OutputFormat): Promise<number> {
    const { parseReference, parseRegistryArg } = await import("../registry/reference.js");
    const { listRepositoryTags, parsePageSize, DEFAULT_TAGS_PAGE_SIZE } = await import("../registry/tags.js");
    const pageSize = this.pageSize !== undefined ? parsePageSize(this.pageSize) : DEFAULT_TAGS_PAGE_SIZE;
    const ref =
      this.registry !== undefined
        ? parseReference(this.term, { defaultRegistry: parseRegistryArg(this.registry).registry })
        : parseReference(this.term);
    const config = await this.config();
    const store = await this.store();
    const { makeRegistryClient } = await import("./registry-client.js");
    const client = await makeRegistryClient(config, store, this.registry, undefined, debugWriter(this));
    try {
      const list = await listRepositoryTags(client, ref, pageSize);
      this.context.stdout.write(
        format === "json" ? printableJson(list) + "\n" : list.tags.map((t) => `${printable(t)}\n`).join(""),
      );
    } finally {
      client.close();
    }
    return 0;
  }
}
