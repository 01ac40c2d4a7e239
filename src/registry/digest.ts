// Content digests (`sha256:<hex>`): their grammar, parsing and computation.
import { createHash } from "node:crypto";

/** The algorithms burrow can verify, with the length of their hex encoding. */
export const DIGEST_ALGORITHMS: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

/** The OCI digest grammar: `algorithm:encoded`, algorithm components joined by `+._-`. */
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** A digest split into its algorithm and lowercase hex. */
export interface ParsedDigest {
  algorithm: string;
  hex: string;
}

/** Why `digest` is not a digest burrow can verify, or undefined when it is one. */
export function digestProblem(digest: string): string | undefined {
  if (!DIGEST_GRAMMAR.test(digest)) return "a digest has the form sha256:<64 hex digits>";
  const colon = digest.indexOf(":");
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const length = DIGEST_ALGORITHMS[algorithm];
  if (length === undefined) return `unsupported digest algorithm "${algorithm}" (use sha256 or sha512)`;
  if (hex.length !== length || !/^[0-9a-f]+$/.test(hex)) {
    return `a ${algorithm} digest has exactly ${length} lowercase hex digits`;
  }
  return undefined;
}

/** Whether `digest` is a well-formed sha256 or sha512 digest. */
export function isDigest(digest: string): boolean {
  return digestProblem(digest) === undefined;
}

/** Splits a digest known to be valid (see `digestProblem`) into algorithm and hex. */
export function parseDigest(digest: string): ParsedDigest {
  const colon = digest.indexOf(":");
  return { algorithm: digest.slice(0, colon), hex: digest.slice(colon + 1) };
}

/** The digest of `data` with the given algorithm (sha256 unless told). */
export function digestOf(data: Buffer | string, algorithm = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}
