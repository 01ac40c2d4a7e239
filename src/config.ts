// Configuration: built-in defaults, then the config file (conf), then the environment, then flags.
import os from "node:os";
import path from "node:path";
import fs from "node:fs";
import { InvalidArgumentError } from "./errors.js";
import { jsonKind } from "./json-kind.js";
import { parseMirrorsConfig, parseMirrorsEnv } from "./registry/mirrors.js";
import type { MirrorRule } from "./registry/mirrors.js";

/** Everything burrow reads from its configuration, after all layers are applied. */
export interface Config {
  /** Root of the user's store. */
  storeDir: string;
  /** Registries (host[:port]) spoken to over plain HTTP or with an unverified certificate. */
  insecureRegistries: string[];
  /** Treat every registry as insecure (`--insecure`). */
  insecureAll: boolean;
  /** Directory holding docker's `config.json` (credentials are read from it too). */
  dockerConfigDir: string;
  /** Proxy for HTTPS requests, and the hosts that bypass it. */
  httpsProxy: string | undefined;
  httpProxy: string | undefined;
  noProxy: string | undefined;
  /** Parallel blob downloads. */
  maxConcurrentDownloads: number;
  /** The engine named in the config file, if any. */
  engine: string | undefined;
  /** The group whose members may write the store too (BURROW_SHARED_GROUP, config `sharedGroup`; README: The store). */
  sharedGroup: string | undefined;
  /** Registry mirrors, tried before the registry they mirror (BURROW_REGISTRY_MIRRORS, config `mirrors`). */
  mirrors: MirrorRule[];
  /** No network at all (`--offline`, BURROW_OFFLINE=1, config `offline`). */
  offline: boolean;
  /** How a pulled image is kept: a flattened folder, or one SquashFS file (BURROW_IMAGE_FORMAT, config `imageFormat`). */
  imageFormat: ImageFormat;
  /** Read-only site stores searched before the user's own (BURROW_STORES, config `stores`; src/store/site-stores.ts). */
  stores: string[];
  /** Where the config file lives (shown by showconf). */
  configFile: string;
  /** Which layer each key's value came from. */
  sources: Record<string, "default" | "file" | "env" | "flag">;
}

/** How an image is kept in the store: `dir` (a flattened folder) or `squashfs` (one SquashFS file). */
export type ImageFormat = "dir" | "squashfs";
const IMAGE_FORMATS: readonly string[] = ["dir", "squashfs"];

/** Values a user may set in the config file (`~/.config/burrow/config.json`). */
export interface FileConfig {
  storeDir?: string;
  insecureRegistries?: string[];
  maxConcurrentDownloads?: number;
  /** The engine to use when neither --engine, a container's saved engine nor BURROW_ENGINE says. */
  engine?: string;
  /** A group (name or gid) whose members share the store: its folders may be theirs and group-writable. */
  sharedGroup?: string;
  /**
   * Registry mirrors (README: Mirrors): `{"docker.io": ["https://m"], "quay.io": {"urls": [...], "fallback":
   * false}}`, or a bare list of URLs for docker.io as Docker's `registry-mirrors`.
   */
  mirrors?: Record<string, string[] | { urls: string[]; fallback?: boolean }> | string[];
  /** Never touch the network. */
  offline?: boolean;
  /** How pulled images are kept: "dir" (the default) or "squashfs". */
  imageFormat?: ImageFormat;
  /** Read-only site stores (folders), searched in order before the user's own. */
  stores?: string[];
}

/** Flags that override everything else. */
export interface FlagConfig {
  repo?: string | undefined;
  insecure?: boolean | undefined;
  offline?: boolean | undefined;
}

/** The directory of burrow's config file: `$XDG_CONFIG_HOME/burrow`, else `~/.config/burrow`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(homeDir(env), ".config"), "burrow");
}

/** The user's home: `$HOME`, else the passwd entry. */
export function homeDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.HOME && env.HOME.length > 0 ? env.HOME : os.userInfo().homedir;
}

/** The store root without config file, flags or `$BURROW_DIR`/`$UDOCKER_DIR`: `$XDG_DATA_HOME/burrow`, else `~/.local/share/burrow`. */
export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(homeDir(env), ".local", "share"), "burrow");
}

/** Splits a comma list such as `BURROW_INSECURE_REGISTRIES`, dropping blanks. */
export function splitList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Reads the config file. conf validates and owns the file format; it is only loaded when the file exists,
 * so commands on the hot path do not pay for it otherwise.
 */
export async function readFileConfig(dir: string): Promise<FileConfig> {
  const file = path.join(dir, "config.json");
  if (!fs.existsSync(file)) return {};
  const { default: Conf } = await import("conf");
  let raw: unknown;
  try {
    const store = new Conf<FileConfig>({ cwd: dir, configName: "config", projectName: "burrow" });
    raw = store.store;
  } catch (err) {
    const { InvalidArgumentError } = await import("./errors.js");
    throw new InvalidArgumentError(`the config file ${file} ${unreadableReason(err)}: fix or remove it`, {
      cause: err,
    });
  }
  return checkFileConfig(raw, file);
}

/** Why conf could not read the config file, in a few words. */
function unreadableReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof SyntaxError) return "is not valid JSON";
  if (code === "EACCES" || code === "EPERM") return "cannot be read (permission denied)";
  if (code === "EISDIR") return "is a folder, not a file";
  return `cannot be read (${(err as Error | undefined)?.message ?? String(err)})`;
}

/** What each key of the config file must hold: a check, and the words for a message. */
const FILE_KEYS: Record<keyof FileConfig, { ok: (v: unknown) => boolean; want: string }> = {
  storeDir: { ok: (v) => typeof v === "string" && v.length > 0, want: "a folder path (a string)" },
  insecureRegistries: {
    ok: (v) => Array.isArray(v) && v.every((h) => typeof h === "string"),
    want: 'a list of host[:port] strings, such as ["registry.local:5000"]',
  },
  maxConcurrentDownloads: {
    ok: (v) => typeof v === "number" && Number.isInteger(v) && v > 0,
    want: "a whole number above 0",
  },
  engine: { ok: (v) => typeof v === "string" && v.length > 0, want: 'an engine name, such as "userns"' },
  sharedGroup: {
    ok: (v) =>
      (typeof v === "string" && v.length > 0) || (typeof v === "number" && Number.isInteger(v) && v >= 0),
    want: 'a group name or number, such as "hpcgroup"',
  },
  // Checked in depth by parseMirrorsConfig (checkFileConfig), which says which entry is wrong.
  mirrors: {
    ok: (v) => typeof v === "object" && v !== null,
    want: 'an object such as {"docker.io": ["https://mirror.example.org"]}',
  },
  offline: { ok: (v) => typeof v === "boolean", want: "true or false" },
  imageFormat: { ok: (v) => typeof v === "string" && IMAGE_FORMATS.includes(v), want: '"dir" or "squashfs"' },
  stores: {
    ok: (v) => Array.isArray(v) && v.every((d) => typeof d === "string" && d.length > 0),
    want: 'a list of folders, such as ["/apps/burrow/store"]',
  },
};

/**
 * Checks what the config file holds: an object whose known keys have their types (keys burrow does not
 * know are left alone). Throws an InvalidArgumentError naming the file, the key and what it must hold.
 */
export function checkFileConfig(raw: unknown, file: string): FileConfig {
  const refuse = (what: string): never => {
    throw new InvalidArgumentError(`the config file ${file} ${what}: fix or remove it`);
  };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return refuse(`holds ${jsonKind(raw)}, not a JSON object`);
  }
  const record = raw as Record<string, unknown>;
  for (const [key, rule] of Object.entries(FILE_KEYS)) {
    const v = record[key];
    if (v !== undefined && !rule.ok(v)) refuse(`sets "${key}" to ${jsonKind(v)}: it must be ${rule.want}`);
  }
  if (record.mirrors !== undefined) {
    try {
      parseMirrorsConfig(record.mirrors);
    } catch (err) {
      refuse(`sets "mirrors" wrong: ${(err as Error).message}`);
    }
  }
  return record as FileConfig;
}

/** Applies the four layers in order: defaults < file < environment < flags. */
export function resolveConfig(file: FileConfig, env: NodeJS.ProcessEnv, flags: FlagConfig): Config {
  const sources: Config["sources"] = {};
  const pick = <T>(key: string, def: T, fromFile: T | undefined, fromEnv: T | undefined, fromFlag?: T): T => {
    if (fromFlag !== undefined) return ((sources[key] = "flag"), fromFlag);
    if (fromEnv !== undefined) return ((sources[key] = "env"), fromEnv);
    if (fromFile !== undefined) return ((sources[key] = "file"), fromFile);
    sources[key] = "default";
    return def;
  };
  // udocker's UDOCKER_DIR names the store when BURROW_DIR does not (users bring udocker's scripts).
  const envDir = env.BURROW_DIR && env.BURROW_DIR.length > 0 ? env.BURROW_DIR : env.UDOCKER_DIR;
  const envStore = envDir && envDir.length > 0 ? path.resolve(envDir) : undefined;
  const storeDir = pick(
    "storeDir",
    defaultStoreDir(env),
    file.storeDir ? path.resolve(file.storeDir) : undefined,
    envStore,
    flags.repo ? path.resolve(flags.repo) : undefined,
  );
  const envInsecure =
    env.BURROW_INSECURE_REGISTRIES !== undefined ? splitList(env.BURROW_INSECURE_REGISTRIES) : undefined;
  const insecureRegistries = pick("insecureRegistries", [], file.insecureRegistries, envInsecure);
  const insecureAll = pick("insecureAll", false, undefined, undefined, flags.insecure ? true : undefined);
  const dockerConfigDir = pick(
    "dockerConfigDir",
    path.join(homeDir(env), ".docker"),
    undefined,
    env.DOCKER_CONFIG && env.DOCKER_CONFIG.length > 0 ? env.DOCKER_CONFIG : undefined,
  );
  const envDownloads = env.BURROW_MAX_DOWNLOADS ? Number.parseInt(env.BURROW_MAX_DOWNLOADS, 10) : undefined;
  const maxConcurrentDownloads = pick(
    "maxConcurrentDownloads",
    4,
    file.maxConcurrentDownloads,
    envDownloads !== undefined && envDownloads > 0 ? envDownloads : undefined,
  );
  const httpsProxy = pick<string | undefined>(
    "httpsProxy",
    undefined,
    undefined,
    env.HTTPS_PROXY ?? env.https_proxy,
  );
  const httpProxy = pick<string | undefined>(
    "httpProxy",
    undefined,
    undefined,
    env.HTTP_PROXY ?? env.http_proxy,
  );
  const noProxy = pick<string | undefined>("noProxy", undefined, undefined, env.NO_PROXY ?? env.no_proxy);
  const engine = pick<string | undefined>("engine", undefined, file.engine, undefined);
  const sharedGroup = pick<string | undefined>(
    "sharedGroup",
    undefined,
    typeof file.sharedGroup === "string" || typeof file.sharedGroup === "number"
      ? String(file.sharedGroup)
      : undefined,
    env.BURROW_SHARED_GROUP ? env.BURROW_SHARED_GROUP : undefined,
  );
  const mirrors = pick<MirrorRule[]>(
    "mirrors",
    [],
    file.mirrors !== undefined ? parseMirrorsConfig(file.mirrors) : undefined,
    env.BURROW_REGISTRY_MIRRORS !== undefined ? mirrorsFromEnv(env.BURROW_REGISTRY_MIRRORS) : undefined,
  );
  const offline = pick(
    "offline",
    false,
    file.offline,
    env.BURROW_OFFLINE !== undefined ? envFlag(env.BURROW_OFFLINE) : undefined,
    flags.offline ? true : undefined,
  );
  const envFormat = env.BURROW_IMAGE_FORMAT;
  if (envFormat !== undefined && envFormat !== "" && !IMAGE_FORMATS.includes(envFormat)) {
    throw new InvalidArgumentError(
      `BURROW_IMAGE_FORMAT=${JSON.stringify(envFormat)}: it must be "dir" or "squashfs"`,
    );
  }
  const imageFormat = pick<ImageFormat>(
    "imageFormat",
    "dir",
    file.imageFormat,
    envFormat ? (envFormat as ImageFormat) : undefined,
  );
  // Site stores: a list split on ',' or ':' (as PATH is); the user's own store is never one of them.
  const envStores =
    env.BURROW_STORES !== undefined
      ? env.BURROW_STORES.split(/[,:]/)
          .map((s) => s.trim())
          .filter((s) => s.length > 0)
      : undefined;
  const stores = pick<string[]>("stores", [], file.stores, envStores)
    .map((d) => path.resolve(d))
    .filter((d) => d !== storeDir);
  return {
    engine,
    imageFormat,
    stores,
    sharedGroup,
    mirrors,
    offline,
    storeDir,
    insecureRegistries,
    insecureAll,
    dockerConfigDir,
    httpsProxy,
    httpProxy,
    noProxy,
    maxConcurrentDownloads,
    configFile: path.join(configDir(env), "config.json"),
    sources,
  };
}

/** BURROW_REGISTRY_MIRRORS parsed; a mistake in it is refused in one line that says what to do. */
function mirrorsFromEnv(value: string): MirrorRule[] {
  try {
    return parseMirrorsEnv(value);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}; fix or unset BURROW_REGISTRY_MIRRORS`, {
      cause: err,
    });
  }
}

/** A yes/no environment variable: unset, empty, `0`, `false`, `no` and `off` are no; anything else is yes. */
export function envFlag(value: string | undefined): boolean {
  return value !== undefined && !["", "0", "false", "no", "off"].includes(value.trim().toLowerCase());
}

/** Loads the whole configuration for one CLI invocation. */
export async function loadConfig(flags: FlagConfig, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const file = await readFileConfig(configDir(env));
  return resolveConfig(file, env, flags);
}

/** Whether a registry host[:port] is to be spoken to insecurely. */
export function isInsecureRegistry(
  config: Pick<Config, "insecureAll" | "insecureRegistries">,
  host: string,
): boolean {
  if (config.insecureAll) return true;
  const bare = host.replace(/:\d+$/, "");
  return config.insecureRegistries.some((h) => h === host || h === bare);
}
