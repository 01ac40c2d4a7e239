// Registry credentials: burrow's own file in the store (0600), then docker's config.json, read-only.
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { StoreError, storeFailure } from "../errors.js";
import { normalizeRegistry } from "./reference.js";

/** A username and password (or token) for one registry. Never print `password`. */
export interface Credentials {
  username: string;
  password: string;
}

/** Where credentials are kept: burrow's store, and docker's config directory (`$DOCKER_CONFIG`). */
export interface CredentialPaths {
  storeDir: string;
  dockerConfigDir?: string;
}

/** Where a credential was found, for messages such as "using credentials from ...". */
export interface FoundCredentials extends Credentials {
  source: string;
}

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
}

/** burrow's credential file: `<storeDir>/credentials.json`. */
export function credentialsFile(storeDir: string): string {
  return path.join(storeDir, "credentials.json");
}

/** The registry an `auths` key names: `https://index.docker.io/v1/` is docker.io, `https://host/` is host. */
export function registryOfAuthKey(key: string): string {
  const bare = key
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    .replace(/\/.*$/, "");
  return normalizeRegistry(bare);
}

/** Decodes one `auths` entry without ever putting the secret in an error message. */
function decodeEntry(entry: AuthEntry, key: string, file: string): Credentials | undefined {
  if (typeof entry.auth === "string" && entry.auth.length > 0) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) {
      throw new StoreError(
        `the "auth" value for ${key} in ${file} is not base64 of user:password; log in again`,
      );
    }
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === "string" && typeof entry.password === "string" && entry.username.length > 0) {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** Reads the `auths` object of a docker-style JSON file; a missing file is empty. */
function readAuths(file: string): Record<string, AuthEntry> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw storeFailure(`cannot read ${file}`, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's message quotes the file's text, which holds secrets: say only where it is broken.
    throw new StoreError(`${file} is not valid JSON; fix it or remove it and log in again`);
  }
  const auths = (json as { auths?: unknown } | null)?.auths;
  if (typeof auths !== "object" || auths === null || Array.isArray(auths)) return {};
  return auths as Record<string, AuthEntry>;
}

/** Looks a registry up in one file; keys are compared by the registry they name. */
function lookup(file: string, registry: string): Credentials | undefined {
  const auths = readAuths(file);
  const wanted = normalizeRegistry(registry);
  // An exact key wins over one that only normalises to the same registry.
  const keys = Object.keys(auths).sort((a, b) => Number(b === registry) - Number(a === registry));
  for (const key of keys) {
    if (registryOfAuthKey(key) !== wanted) continue;
    const creds = decodeEntry(auths[key]!, key, file);
    if (creds) return creds;
  }
  return undefined;
}

/** Credentials for `registry`: burrow's own file first, then docker's `config.json`; undefined when none. */
export function getCredentials(paths: CredentialPaths, registry: string): FoundCredentials | undefined {
  const own = credentialsFile(paths.storeDir);
  const mine = lookup(own, registry);
  if (mine) return { ...mine, source: own };
  if (paths.dockerConfigDir) {
    const docker = path.join(paths.dockerConfigDir, "config.json");
    const theirs = lookup(docker, registry);
    if (theirs) return { ...theirs, source: docker };
  }
  return undefined;
}

/** Writes burrow's credential file: a 0600 temp file in a 0700-created dir, then an atomic rename. */
function writeAuths(storeDir: string, auths: Record<string, AuthEntry>): void {
  const file = credentialsFile(storeDir);
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    fs.mkdirSync(storeDir, { recursive: true, mode: 0o700 });
    const fd = fs.openSync(tmp, "wx", 0o600);
    try {
      fs.fchmodSync(fd, 0o600); // the umask may have taken bits away, never added: make it exact
      fs.writeFileSync(fd, JSON.stringify({ auths }, null, 2) + "\n");
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Not created, or already renamed.
    }
    throw storeFailure(`cannot write ${file}`, err);
  }
}

/** Saves credentials for `registry` in burrow's file (replacing any for the same registry). */
export function saveCredentials(storeDir: string, registry: string, creds: Credentials): void {
  const wanted = normalizeRegistry(registry);
  const auths = readAuths(credentialsFile(storeDir));
  for (const key of Object.keys(auths)) if (registryOfAuthKey(key) === wanted) delete auths[key];
  auths[wanted] = { auth: Buffer.from(`${creds.username}:${creds.password}`, "utf8").toString("base64") };
  writeAuths(storeDir, auths);
}

/** Removes burrow's credentials for `registry`; returns whether there were any. Docker's file is left alone. */
export function removeCredentials(storeDir: string, registry: string): boolean {
  const wanted = normalizeRegistry(registry);
  const auths = readAuths(credentialsFile(storeDir));
  const keys = Object.keys(auths).filter((k) => registryOfAuthKey(k) === wanted);
  if (keys.length === 0) return false;
  for (const key of keys) delete auths[key];
  writeAuths(storeDir, auths);
  return true;
}

/** Removes every credential burrow saved; returns the registries that had one. */
export function removeAllCredentials(storeDir: string): string[] {
  const file = credentialsFile(storeDir);
  const registries = Object.keys(readAuths(file)).map(registryOfAuthKey);
  try {
    fs.rmSync(file, { force: true });
  } catch (err) {
    throw storeFailure(`cannot remove ${file}`, err);
  }
  return registries;
}
