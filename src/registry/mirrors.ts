// Registry mirrors: which mirrors stand in for which registry (BURROW_REGISTRY_MIRRORS, config `mirrors`),
// parsed and checked; the registry client tries them in order (src/registry/client.ts).
import { InvalidArgumentError } from "../errors.js";
import { DOCKER_HUB, normalizeRegistry, parseRegistryArg } from "./reference.js";

/** One mirror: where its registry API is, and the repository namespace it keeps the mirrored images under. */
export interface MirrorUrl {
  /** The URL as the user wrote it, without a trailing slash (for messages). */
  url: string;
  /** The scheme the user named (a bare host means https): http mirrors need no --insecure. */
  scheme: "http" | "https";
  /** host[:port], lowercase: the registry API is at `scheme://host/v2/`; credentials are this host's. */
  host: string;
  /**
   * The URL's path as a repository namespace (containers-registries.conf's `location = "host/ns"`), without
   * slashes at either end; "" for none. `https://harbor.site/hub-proxy` asks for `hub-proxy/library/alpine`.
   */
  namespace: string;
}

/** The mirrors of one registry, tried in order, then the registry itself unless `fallback` is false. */
export interface MirrorRule {
  /** The registry mirrored, normalised host[:port] (`docker.io` for Docker Hub). */
  registry: string;
  mirrors: MirrorUrl[];
  /** Whether the registry itself is asked after its mirrors (true unless the user said otherwise). */
  fallback: boolean;
}

/** The word in BURROW_REGISTRY_MIRRORS that says "these mirrors only, never the registry itself". */
export const NO_FALLBACK_WORD = "nofallback";

const NAMESPACE_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/**
 * Parses one mirror URL: `https://host[:port][/namespace]`, `http://...`, or a bare `host[:port][/ns]`
 * (https). Credentials, a query or a fragment in it are refused (as Docker refuses them in
 * `registry-mirrors`); so is any scheme but http and https.
 */
export function parseMirrorUrl(input: string): MirrorUrl {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`invalid mirror "${input}": ${why}`);
  };
  const text = input.trim();
  if (text.length === 0) fail("it is empty");
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text);
  const scheme = m ? m[1]!.toLowerCase() : "https";
  if (scheme !== "http" && scheme !== "https")
    fail(`unsupported scheme "${scheme}" (use https:// or http://)`);
  let url: URL;
  try {
    url = new URL(m ? text : `https://${text}`);
  } catch {
    return fail("it is not a URL (write https://host[:port][/namespace])");
  }
  if (url.username !== "" || url.password !== "") {
    fail(`credentials in the URL are not supported; run "burrow login ${url.host}" for the mirror`);
  }
  if (url.search !== "" || text.includes("?")) fail("a query (?...) is not allowed in a mirror URL");
  if (url.hash !== "" || text.includes("#")) fail("a fragment (#...) is not allowed in a mirror URL");
  if (url.host === "") fail("the host is missing");
  parseRegistryArg(url.host);
  const host = url.host.toLowerCase();
  const namespace = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, "");
  if (namespace !== "") {
    for (const part of namespace.split("/")) {
      if (!NAMESPACE_COMPONENT.test(part)) {
        fail(
          `bad namespace "${namespace}": the path of a mirror URL is a repository namespace ` +
            `(lowercase letters and digits separated by ".", "_", "__" or "-")`,
        );
      }
    }
  }
  const written = text.replace(/\/+$/, "");
  return { url: m ? written : `https://${written}`, scheme: scheme as "http" | "https", host, namespace };
}

/** Parses the registry a rule is for (`docker.io`, `quay.io`, `host:5000`), normalised. */
function parseMirroredRegistry(input: string): string {
  const text = input.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) || text.includes("/")) {
    throw new InvalidArgumentError(
      `invalid mirrored registry "${input}": name it as host[:port] (such as docker.io), without a scheme or path`,
    );
  }
  return normalizeRegistry(parseRegistryArg(text).registry);
}

/**
 * Parses BURROW_REGISTRY_MIRRORS: entries `REGISTRY=URL[,URL...]` separated by `;` or white space, tried
 * in the order written, then the registry itself; `nofallback` in an entry's list keeps the registry
 * itself out. An entry of bare URLs (no `REGISTRY=`) is for docker.io, as Docker's `registry-mirrors`.
 * A registry named twice has its mirrors joined in order. Throws InvalidArgumentError saying what is wrong.
 */
export function parseMirrorsEnv(value: string, name = "BURROW_REGISTRY_MIRRORS"): MirrorRule[] {
  const rules = new Map<string, MirrorRule>();
  for (const entry of value.split(/[;\s]+/).filter((s) => s.length > 0)) {
    const eq = entry.indexOf("=");
    const where = `${name} entry "${entry}"`;
    let registry = DOCKER_HUB;
    if (eq !== -1) {
      try {
        registry = parseMirroredRegistry(entry.slice(0, eq));
      } catch (err) {
        throw new InvalidArgumentError(`${where}: ${(err as Error).message}`, { cause: err });
      }
    }
    const list = (eq === -1 ? entry : entry.slice(eq + 1)).split(",").filter((s) => s.length > 0);
    const rule = rules.get(registry) ?? { registry, mirrors: [], fallback: true };
    for (const item of list) {
      if (item.toLowerCase() === NO_FALLBACK_WORD) {
        rule.fallback = false;
        continue;
      }
      try {
        rule.mirrors.push(parseMirrorUrl(item));
      } catch (err) {
        throw new InvalidArgumentError(`${where}: ${(err as Error).message}`, { cause: err });
      }
    }
    if (rule.mirrors.length === 0 && !rules.has(registry)) {
      throw new InvalidArgumentError(`${where} names no mirror URL: write REGISTRY=URL[,URL...]`);
    }
    rules.set(registry, rule);
  }
  return [...rules.values()].filter((r) => r.mirrors.length > 0);
}

/**
 * Reads the config file's `mirrors`: an object from registry to a list of URLs, or to
 * `{"urls": [...], "fallback": false}`; a bare list of URLs is for docker.io (Docker's `registry-mirrors`).
 * Throws InvalidArgumentError saying which entry is wrong (the caller names the file).
 */
export function parseMirrorsConfig(value: unknown): MirrorRule[] {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(why);
  };
  const urls = (list: unknown, where: string): MirrorUrl[] => {
    if (!Array.isArray(list) || list.length === 0 || !list.every((u) => typeof u === "string")) {
      return fail(`${where} must be a non-empty list of mirror URLs, such as ["https://mirror.example.org"]`);
    }
    return (list as string[]).map((u) => {
      try {
        return parseMirrorUrl(u);
      } catch (err) {
        return fail(`${where}: ${(err as Error).message}`);
      }
    });
  };
  if (Array.isArray(value))
    return [{ registry: DOCKER_HUB, mirrors: urls(value, "the list"), fallback: true }];
  if (typeof value !== "object" || value === null) {
    return fail(
      'it must be an object from registry to mirror URLs, such as {"docker.io": ["https://mirror.example.org"]}',
    );
  }
  const rules = new Map<string, MirrorRule>();
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    let registry: string;
    try {
      registry = parseMirroredRegistry(key);
    } catch (err) {
      return fail((err as Error).message);
    }
    const where = `the entry "${key}"`;
    let rule: MirrorRule;
    if (Array.isArray(entry)) {
      rule = { registry, mirrors: urls(entry, where), fallback: true };
    } else if (typeof entry === "object" && entry !== null) {
      const { urls: list, fallback, ...rest } = entry as Record<string, unknown>;
      const unknown = Object.keys(rest);
      if (unknown.length > 0)
        fail(`${where} has the unknown key "${unknown[0]}" (it takes "urls" and "fallback")`);
      if (fallback !== undefined && typeof fallback !== "boolean")
        fail(`${where}: "fallback" must be true or false`);
      rule = { registry, mirrors: urls(list, `${where}: "urls"`), fallback: fallback !== false };
    } else {
      return fail(`${where} must be a list of mirror URLs or {"urls": [...], "fallback": false}`);
    }
    if (rules.has(registry)) fail(`${where} names ${registry} again`);
    rules.set(registry, rule);
  }
  return [...rules.values()];
}

/** The rule for `registry`, if it has mirrors. */
export function mirrorRuleFor(rules: readonly MirrorRule[], registry: string): MirrorRule | undefined {
  const normal = normalizeRegistry(registry);
  return rules.find((r) => r.registry === normal);
}

/** A rule in the env var's own syntax (showconf prints it so). */
export function formatMirrorRule(rule: MirrorRule): string {
  const items = rule.mirrors.map((m) => m.url);
  if (!rule.fallback) items.push(NO_FALLBACK_WORD);
  return `${rule.registry}=${items.join(",")}`;
}
