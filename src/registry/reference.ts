// Image references as docker parses them: `[registry/]repository[:tag][@digest]`, with docker.io defaults.
import { InvalidArgumentError, InvalidReferenceError } from "../errors.js";
import { digestProblem } from "./digest.js";

/** The registry a name without a registry part belongs to. */
export const DOCKER_HUB = "docker.io";
/** The host that serves Docker Hub's registry API. */
export const DOCKER_HUB_API_HOST = "registry-1.docker.io";
/** The tag used when a reference names neither a tag nor a digest. */
export const DEFAULT_TAG = "latest";

const MAX_NAME_LENGTH = 255;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)";
const DOMAIN = new RegExp(
  `^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:.]+\\])(?::[0-9]{1,5})?$`,
);
const TAG = /^[\w][\w.-]{0,127}$/;
const DOCKER_HUB_ALIASES = new Set([
  "docker.io",
  "index.docker.io",
  "registry-1.docker.io",
  "registry.hub.docker.com",
]);

/** A parsed, normalised image reference. */
export class Reference {
  constructor(
    /** Registry host[:port], normalised (`docker.io` for Docker Hub). */
    readonly registry: string,
    /** Repository path inside the registry (`library/alpine`). */
    readonly repository: string,
    /** Tag, when the reference names one (`latest` is filled in when neither tag nor digest is given). */
    readonly tag?: string,
    /** Digest, when the reference pins one. */
    readonly digest?: string,
  ) {}

  /** `registry/repository`, the fully qualified name without tag or digest. */
  get name(): string {
    return `${this.registry}/${this.repository}`;
  }

  /** The short name docker shows: `alpine`, `user/img`, `host:5000/repo`. */
  get familiarName(): string {
    if (this.registry !== DOCKER_HUB) return this.name;
    return this.repository.startsWith("library/") && this.repository.indexOf("/", 8) === -1
      ? this.repository.slice(8)
      : this.repository;
  }

  /** The host[:port] burrow sends registry API requests to. */
  get apiHost(): string {
    return registryApiHost(this.registry);
  }

  /** The tag or digest to ask the registry for: the digest when pinned, else the tag. */
  get manifestRef(): string {
    return this.digest ?? this.tag ?? DEFAULT_TAG;
  }

  /** The canonical form: `docker.io/library/alpine:latest`, `host/repo@sha256:...`. */
  toString(): string {
    return `${this.name}${this.tag !== undefined ? `:${this.tag}` : ""}${this.digest !== undefined ? `@${this.digest}` : ""}`;
  }

  /** The familiar form: `alpine:latest`, `user/img@sha256:...`. */
  toFamiliarString(): string {
    return `${this.familiarName}${this.tag !== undefined ? `:${this.tag}` : ""}${this.digest !== undefined ? `@${this.digest}` : ""}`;
  }

  /** The same repository pinned to `digest` (the tag is kept for display). */
  withDigest(digest: string): Reference {
    return new Reference(this.registry, this.repository, this.tag, digest);
  }

  /** The same repository with `tag` and no digest. */
  withTag(tag: string): Reference {
    return new Reference(this.registry, this.repository, tag, undefined);
  }
}

/** Options for `parseReference`. */
export interface ParseReferenceOptions {
  /** Registry for names that do not start with one (`--registry=URL`); docker.io by default. */
  defaultRegistry?: string;
}

/** Maps the aliases of Docker Hub to `docker.io` and lowercases the host. */
export function normalizeRegistry(registry: string): string {
  const lower = registry.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/** The host[:port] that serves the registry API of `registry` (`registry-1.docker.io` for docker.io). */
export function registryApiHost(registry: string): string {
  const normal = normalizeRegistry(registry);
  return normal === DOCKER_HUB ? DOCKER_HUB_API_HOST : normal;
}

/** Whether the first component of a name is a registry: it contains `.` or `:` or is `localhost`. */
function looksLikeRegistry(component: string): boolean {
  return component.includes(".") || component.includes(":") || component === "localhost";
}

/** Parses an image reference the way docker does; throws InvalidReferenceError saying what is wrong. */
export function parseReference(input: string, options: ParseReferenceOptions = {}): Reference {
  const fail = (why: string): never => {
    throw new InvalidReferenceError(`invalid reference "${input}": ${why}`);
  };
  if (input.length === 0) fail("it is empty");
  if (/\s/.test(input)) fail("it contains white space");

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = digestProblem(digest);
    if (problem !== undefined) fail(`bad digest "${digest}": ${problem}`);
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      fail(
        tag.length > 128
          ? "a tag is at most 128 characters"
          : `bad tag "${tag}": a tag is letters, digits, "_", "." and "-", not starting with "." or "-"`,
      );
    }
  }
  if (rest.length === 0) fail("the repository name is missing");

  let registry: string;
  let path: string;
  const slash = rest.indexOf("/");
  const first = slash === -1 ? "" : rest.slice(0, slash);
  if (slash !== -1 && looksLikeRegistry(first)) {
    if (!DOMAIN.test(first)) fail(`bad registry "${first}": expected host[:port]`);
    registry = normalizeRegistry(first);
    path = rest.slice(slash + 1);
  } else {
    registry = normalizeRegistry(options.defaultRegistry ?? DOCKER_HUB);
    path = rest;
  }
  if (path.length === 0) fail("the repository name is missing");
  if (path !== path.toLowerCase()) fail("repository names must be lowercase");
  for (const component of path.split("/")) {
    if (component.length === 0) fail("the repository name has an empty path component");
    if (!PATH_COMPONENT.test(component)) {
      fail(
        `bad repository name component "${component}": use lowercase letters and digits, ` +
          `separated by ".", "_", "__" or "-"`,
      );
    }
  }
  if (registry === DOCKER_HUB && !path.includes("/")) path = `library/${path}`;
  if (registry.length + 1 + path.length > MAX_NAME_LENGTH) {
    fail(`the repository name is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return new Reference(registry, path, tag, digest);
}

/** A registry given on the command line (`--registry=URL`, `login HOST`). */
export interface RegistryArg {
  /** Normalised host[:port] (`docker.io` for Docker Hub). */
  registry: string;
  /** The scheme, when the argument spelled one; `http` asks for a plain-HTTP registry. */
  scheme?: "http" | "https";
}

/** Parses `https://host:port`, `http://host:port/`, `host:port`, `host` and docker's `https://index.docker.io/v1/`. */
export function parseRegistryArg(input: string): RegistryArg {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`invalid registry "${input}": ${why}`);
  };
  let rest = input.trim();
  let scheme: "http" | "https" | undefined;
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(rest);
  if (m) {
    const s = m[1]!.toLowerCase();
    if (s !== "http" && s !== "https") fail(`unsupported scheme "${s}" (use https:// or http://)`);
    scheme = s as "http" | "https";
    rest = rest.slice(m[0].length);
  }
  const slash = rest.indexOf("/");
  if (slash !== -1) {
    const path = rest.slice(slash).replace(/\/+$/, "");
    if (path !== "" && path !== "/v1" && path !== "/v2") fail("expected host[:port] without a path");
    rest = rest.slice(0, slash);
  }
  if (rest.length === 0) fail("the host is missing");
  if (rest.includes("@")) fail("credentials in the URL are not supported; use burrow login");
  if (!DOMAIN.test(rest)) fail("expected host[:port]");
  const port = /:(\d+)$/.exec(rest);
  if (port && Number(port[1]) > 65535) fail("the port is out of range");
  return scheme === undefined
    ? { registry: normalizeRegistry(rest) }
    : { registry: normalizeRegistry(rest), scheme };
}
