// A repository's tags through the distribution API (`GET /v2/<name>/tags/list?n=N`, pages linked by
// `Link: <...>; rel="next"`), for `burrow search --list-tags`.
import { InvalidArgumentError } from "../errors.js";
import type { RegistryClient } from "./client.js";
import type { Reference } from "./reference.js";

/** Tags asked for per page when the user names no page size (registries may send fewer and link on). */
export const DEFAULT_TAGS_PAGE_SIZE = 1000;

/** The largest page size burrow asks for. */
export const MAX_TAGS_PAGE_SIZE = 10_000;

/** A repository and its tags, as `--format json` prints them. */
export interface TagList {
  /** `registry/repository`, as the user can pull it. */
  name: string;
  tags: string[];
}

/** Parses a `--page-size` value: a whole number from 1 to MAX_TAGS_PAGE_SIZE. */
export function parsePageSize(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_TAGS_PAGE_SIZE) {
    throw new InvalidArgumentError(
      `invalid --page-size "${value}": give a number of tags from 1 to ${MAX_TAGS_PAGE_SIZE}`,
    );
  }
  return n;
}

/** The tags in order of first appearance, each once (a registry's pages may overlap at their edges). */
export function uniqueTags(tags: readonly string[]): string[] {
  return [...new Set(tags)];
}

/**
 * Lists every tag of `ref`'s repository (its tag or digest is ignored), following the registry's pages.
 * Errors are the client's: ManifestUnknownError for an unknown repository, AuthenticationError when
 * credentials are missing or refused, RegistryError when the registry cannot be reached.
 */
export async function listRepositoryTags(
  client: RegistryClient,
  ref: Reference,
  pageSize: number = DEFAULT_TAGS_PAGE_SIZE,
): Promise<TagList> {
  const tags = await client.listTags(ref, pageSize);
  return { name: ref.name, tags: uniqueTags(tags) };
}
