// Error classes with stable codes; the CLI prints their message on one line and exits 125 (run, exec) or
// 1 (every other command: src/cli/host.ts, failureStatusOf), unless an error names its own status.
import { inspect } from "node:util";

/** Base of every error burrow raises on purpose: a stable `code`, a user-facing message, the cause kept. */
export class BurrowError extends Error {
  readonly code: string;
  /** The exit status the CLI uses for this error when it names one (else the command's: failureStatusOf). */
  readonly exitCode: number | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options?.exitCode;
  }
}

/** A malformed image reference, platform or option value given by the user. */
export class InvalidArgumentError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_INVALID_ARGUMENT", message, options);
  }
}

/** A malformed image reference. */
export class InvalidReferenceError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_INVALID_REFERENCE", message, options);
  }
}

/** The registry does not know the repository, tag or digest asked for. */
export class ManifestUnknownError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_MANIFEST_UNKNOWN", message, options);
  }
}

/** A manifest format burrow does not handle (Docker schema 1, unknown media types). */
export class UnsupportedManifestError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_MANIFEST_UNSUPPORTED", message, options);
  }
}

/** No manifest in an index matches the requested platform. */
export class PlatformNotFoundError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_PLATFORM_NOT_FOUND", message, options);
  }
}

/** Content whose sha256 or size does not match the digest that names it. */
export class DigestMismatchError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_DIGEST_MISMATCH", message, options);
  }
}

/** The registry refused our credentials, or asked for credentials we do not have. */
export class AuthenticationError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_AUTHENTICATION", message, options);
  }
}

/** The registry could not be reached or answered with an unexpected status after retries. */
export class RegistryError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_REGISTRY", message, options);
  }
}

/** A layer that tries to reach outside the rootfs or is not a valid tar stream. */
export class UnsafeLayerError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_LAYER_UNSAFE", message, options);
  }
}

/** A layer that cannot be read: truncated, corrupt compression, unknown media type. */
export class LayerFormatError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_LAYER_FORMAT", message, options);
  }
}

/** An image or name that is not in the local store. */
export class ImageNotFoundError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_IMAGE_NOT_FOUND", message, options);
  }
}

/** The store is unusable (permissions, full disk, corrupt metadata). */
export class StoreError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_STORE", message, options);
  }
}

/** Something in the store is in use or protected and cannot be changed as asked. */
export class ConflictError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_CONFLICT", message, options);
  }
}

/** An archive or image layout that cannot be loaded: malformed, incomplete, or pointing outside itself. */
export class ArchiveError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_ARCHIVE_INVALID", message, options);
  }
}

/** An image config whose fields do not have the types the image spec gives them. */
export class ImageConfigError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_IMAGE_CONFIG", message, options);
  }
}

/** Wraps a filesystem error from the store in a one-line message that says what to do. */
export function storeFailure(what: string, err: unknown): BurrowError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new StoreError(`${what}: no space left on the store's filesystem; free some space and retry`, {
      cause: err,
    });
  }
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return new StoreError(`${what}: permission denied; check that the store directory is writable`, {
      cause: err,
    });
  }
  if (code === "EEXIST" || code === "ENOTDIR") {
    return new StoreError(
      `${what}: a file is in the way where a folder must be; give the store a folder of its own`,
      {
        cause: err,
      },
    );
  }
  return new StoreError(`${what}: ${err instanceof Error ? err.message : describeThrown(err)}`, {
    cause: err,
  });
}

/**
 * A thrown value in words: an Error's name, code and message; anything else (a plain object, a string) as
 * util.inspect shows it on one line, never "[object Object]".
 */
export function describeThrown(value: unknown): string {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    const tag = typeof code === "string" || typeof code === "number" ? ` [${code}]` : "";
    return `${value.name}${tag}: ${value.message || "(no message)"}`;
  }
  if (typeof value === "string") return value;
  // Error-like objects (got hands over the socket's error as one: name, message, code) read as errors do.
  const o = value as { name?: unknown; message?: unknown; code?: unknown } | null;
  if (typeof o === "object" && o !== null && typeof o.message === "string") {
    const tag = typeof o.code === "string" || typeof o.code === "number" ? ` [${o.code}]` : "";
    return `${typeof o.name === "string" ? o.name : "Object"}${tag}: ${o.message}`;
  }
  return inspect(value, { depth: 3, breakLength: Infinity, compact: true, maxStringLength: 500 });
}

/**
 * The lines `--debug` prints: each error in the cause chain with its code and stack, readable whatever was
 * thrown (plain objects, strings); the errors an AggregateError holds are listed under it, indented.
 */
export function causeChain(err: unknown, indent = ""): string[] {
  const lines: string[] = [];
  const seen = new Set<unknown>();
  let cur: unknown = err;
  for (let depth = 0; depth < 16 && cur !== undefined && cur !== null && !seen.has(cur); depth++) {
    seen.add(cur);
    lines.push(`${indent}${depth === 0 ? "error" : "caused by"}: ${describeThrown(cur)}`);
    if (typeof cur !== "object") break;
    if (cur instanceof Error && cur.stack) {
      for (const l of cur.stack.split("\n").slice(1))
        if (/^\s*at /.test(l)) lines.push(`${indent}    ${l.trim()}`);
    }
    const inner = (cur as { errors?: unknown }).errors;
    if (Array.isArray(inner)) {
      for (const [i, e] of inner.slice(0, 8).entries()) {
        const sub = causeChain(e, `${indent}  `);
        sub[0] = sub[0]!.replace("error: ", `error ${i + 1} of ${inner.length}: `);
        lines.push(...sub);
      }
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return lines;
}

/** The engine asked for (or every engine) cannot run on this machine; the message says why. */
export class EngineUnavailableError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_ENGINE_UNAVAILABLE", message, options);
  }
}

/** Burrow is offline (`--offline`, BURROW_OFFLINE=1) and what was asked needs the network. */
export class OfflineError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_OFFLINE", message, options);
  }
}
