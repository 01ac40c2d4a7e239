// The error `burrow install` raises when a binary cannot be fetched, and its one-line wording.
import { BurrowError } from "../errors.js";
import { errorCode } from "../registry/retry.js";
import { isTlsVerifyError, PLAIN_WORDS } from "../registry/network-errors.js";

/** A download that could not be made (unreachable host, HTTP error); the message names the URL and the mirror variable. */
export class DownloadError extends BurrowError {
  constructor(what: string, url: URL, options?: { cause?: unknown }) {
    super(
      "ERR_INSTALL_DOWNLOAD",
      `cannot download ${url.href}: ${what}; check the network or proxy, or set BURROW_INSTALL_URL to a mirror`,
      options,
    );
  }
}

/** Turns a network-level failure fetching `url` into a DownloadError. */
export function describeDownloadFailure(err: unknown, url: URL): BurrowError {
  if (err instanceof BurrowError) return err;
  if (isTlsVerifyError(err)) {
    return new DownloadError(
      `its TLS certificate cannot be verified (${(err as Error).message}); add the CA with NODE_EXTRA_CA_CERTS`,
      url,
      { cause: err },
    );
  }
  const code = errorCode(err);
  const words = code !== undefined ? PLAIN_WORDS[code] : undefined;
  const detail =
    code !== undefined ? `${code}${words ? ` (${words})` : ""}` : ((err as Error)?.message ?? String(err));
  return new DownloadError(detail, url, { cause: err });
}
