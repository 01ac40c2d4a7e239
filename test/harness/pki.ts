// The test PKI: a throwaway CA, a server certificate for 127.0.0.1/localhost, and a token signing key.
import fs from "node:fs/promises";
import path from "node:path";
import { runProgram } from "./proc.js";

/** Paths of the files `makeTestPki` writes. */
export interface TestPki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** A folder holding only `ca.crt`, for `skopeo --cert-dir` and docker-style `certs.d` use. */
  certDir: string;
  /** Self-signed certificate and key that sign the token server's JWTs. */
  tokenCert: string;
  tokenKey: string;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Creates the CA, the server certificate (SAN IP:127.0.0.1, DNS:localhost) and the token key in `dir`. */
export async function makeTestPki(dir: string): Promise<TestPki> {
  const p = (name: string): string => path.join(dir, name);
  const pki: TestPki = {
    dir,
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    certDir: p("certs.d"),
    tokenCert: p("token.crt"),
    tokenKey: p("token.key"),
  };
  await fs.mkdir(pki.certDir, { recursive: true });
  const ca = runProgram("openssl", [
    "req", "-x509", ...EC, "-days", "3", "-subj", "/CN=burrow test CA",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-keyout", pki.caKey, "-out", pki.caCert,
  ]); // prettier-ignore
  const token = runProgram("openssl", [
    "req", "-x509", ...EC, "-days", "3", "-subj", "/CN=burrow test token issuer",
    "-addext", "keyUsage=critical,digitalSignature",
    "-keyout", pki.tokenKey, "-out", pki.tokenCert,
  ]); // prettier-ignore
  await ca;
  await runProgram("openssl", [
    "req", "-x509", ...EC, "-days", "3", "-subj", "/CN=localhost",
    "-CA", pki.caCert, "-CAkey", pki.caKey,
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-addext", "basicConstraints=critical,CA:FALSE",
    "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
    "-addext", "extendedKeyUsage=serverAuth",
    "-keyout", pki.serverKey, "-out", pki.serverCert,
  ]); // prettier-ignore
  await token;
  await fs.copyFile(pki.caCert, path.join(pki.certDir, "ca.crt"));
  await Promise.all([pki.caKey, pki.serverKey, pki.tokenKey].map((k) => fs.chmod(k, 0o600)));
  await Promise.all([pki.caCert, pki.serverCert, pki.tokenCert].map((c) => fs.chmod(c, 0o644)));
  await fs.chmod(path.join(pki.certDir, "ca.crt"), 0o644);
  await fs.chmod(pki.certDir, 0o755);
  await fs.chmod(dir, 0o755);
  return pki;
}
