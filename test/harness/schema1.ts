// Docker schema 1 signed manifests (libtrust JWS), for tests of how the CLI treats that legacy format.
import { createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import type { Layer } from "./image-builder.js";

/** What a schema 1 manifest describes. */
export interface Schema1Options {
  name: string;
  tag: string;
  architecture?: string;
  /** The image config written into the top layer's v1Compatibility entry. */
  config?: Record<string, unknown>;
  /** Signing key (EC P-256); a fresh one when absent. */
  key?: KeyObject;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString("base64url");

/**
 * A signed schema 1 manifest of `layers` (bottom first), as `docker push` from docker 1.x wrote it:
 * fsLayers and history top layer first, one libtrust JWS signature in "signatures". Returns the
 * bytes to PUT (media type application/vnd.docker.distribution.manifest.v1+prettyjws) and the
 * payload, whose sha256 is the manifest's digest.
 */
export function signedSchema1Manifest(
  layers: Layer[],
  opts: Schema1Options,
): { body: Buffer; payload: Buffer } {
  const ids = layers.map((_, i) => (i + 1).toString(16).padStart(64, "0"));
  const top = layers.length - 1;
  const history = layers.map((_, i) => {
    const v1: Record<string, unknown> = {
      id: ids[i],
      ...(i > 0 ? { parent: ids[i - 1] } : {}),
      created: "2023-11-14T22:13:20Z",
      container_config: { Cmd: [`burrow test harness: layer ${i + 1}`] },
    };
    if (i === top)
      Object.assign(v1, {
        architecture: opts.architecture ?? "amd64",
        os: "linux",
        config: opts.config ?? {},
      });
    return { v1Compatibility: JSON.stringify(v1) };
  });
  const unsigned = {
    schemaVersion: 1,
    name: opts.name,
    tag: opts.tag,
    architecture: opts.architecture ?? "amd64",
    fsLayers: layers.map((l) => ({ blobSum: l.digest })).reverse(),
    history: history.reverse(),
  };
  const payload = Buffer.from(JSON.stringify(unsigned, null, 3));
  // libtrust signs the payload minus its closing brace; the signatures go in before that tail.
  const tailStart = payload.lastIndexOf("\n}");
  const formatTail = payload.subarray(tailStart);
  const key = opts.key ?? generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const jwk = createPublicKey(key).export({ format: "jwk" });
  const protectedHeader = b64url(
    JSON.stringify({ formatLength: tailStart, formatTail: b64url(formatTail), time: "2023-11-14T22:13:20Z" }),
  );
  const signature = sign("sha256", Buffer.from(`${protectedHeader}.${b64url(payload)}`), {
    key,
    dsaEncoding: "ieee-p1363",
  });
  const signatures = [
    {
      header: { jwk: { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }, alg: "ES256" },
      signature: b64url(signature),
      protected: protectedHeader,
    },
  ];
  const sigJson = JSON.stringify(signatures, null, 3).replace(/\n/g, "\n   ");
  const body = Buffer.concat([
    payload.subarray(0, tailStart),
    Buffer.from(`,\n   "signatures": ${sigJson}`),
    formatTail,
  ]);
  return { body, payload };
}
