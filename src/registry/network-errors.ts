// One-line messages for failures below HTTP: unreachable hosts, TLS verification, proxies.
import { BurrowError, RegistryError, describeThrown } from "../errors.js";
import { errorCode } from "./retry.js";

const TLS_VERIFY_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REVOKED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);

/** What a network error code means, in words a user reads in an error line. */
export const PLAIN_WORDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "no such host",
  EAI_AGAIN: "name lookup failed",
  ETIMEDOUT: "timed out",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EPIPE: "connection closed",
};

/** Whether an error is a failed certificate check (as opposed to an unreachable host). */
export function isTlsVerifyError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && TLS_VERIFY_CODES.has(code);
}

/** Whether an error says the other side does not speak TLS at all (a plain-HTTP registry). */
export function isNotTlsError(err: unknown): boolean {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : "";
  return (
    code === "EPROTO" || code === "ERR_SSL_WRONG_VERSION_NUMBER" || /wrong version number/i.test(message)
  );
}

/** Turns a network-level failure talking to `registry` into a BurrowError whose message says what to do. */
export function describeNetworkError(err: unknown, registry: string, insecure: boolean): BurrowError {
  if (err instanceof BurrowError) return err;
  const code = errorCode(err) ?? "error";
  const detail = err instanceof Error ? err.message : describeThrown(err);
  if (isTlsVerifyError(err)) {
    return new RegistryError(
      `cannot verify the TLS certificate of ${registry}: ${detail}; add its CA with ` +
        `NODE_EXTRA_CA_CERTS=/path/to/ca.pem, or trust it blindly with --insecure or ` +
        `BURROW_INSECURE_REGISTRIES=${registry}`,
      { cause: err },
    );
  }
  if (isNotTlsError(err) && !insecure) {
    return new RegistryError(
      `${registry} does not answer HTTPS (${code}); if it is a plain-HTTP registry use --insecure or ` +
        `BURROW_INSECURE_REGISTRIES=${registry}`,
      { cause: err },
    );
  }
  if (code === "EPROXY") return new RegistryError(`cannot reach ${registry}: ${detail}`, { cause: err });
  const words = PLAIN_WORDS[code];
  return new RegistryError(
    `cannot reach ${registry}: ${code}${words ? ` (${words})` : ` (${detail})`}; check the address` +
      (insecure ? "" : " or use --insecure for plain HTTP"),
    { cause: err },
  );
}
