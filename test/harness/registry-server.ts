// Starts a real docker-registry (distribution v2.8) on loopback with a throwaway storage folder.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import path from "node:path";

/** How a registry instance authenticates clients. */
export type RegistryAuthConfig =
  | { kind: "none" }
  | { kind: "htpasswd"; file: string }
  | { kind: "token"; realm: string; service: string; issuer: string; rootCertBundle: string };

/** What `startRegistry` needs. */
export interface RegistryOptions {
  /** A short name for logs and folder names: plain, tls, auth, token. */
  name: string;
  /** An empty folder the instance may own: storage, config, log. */
  dir: string;
  tls?: { cert: string; key: string; ca: string };
  auth: RegistryAuthConfig;
  /** Accept pushes of Docker schema 1 signed manifests (off by default in distribution 2.8). */
  schema1?: boolean;
  binary?: string;
}

/** A running registry. */
export interface RunningRegistry {
  name: string;
  /** host:port on 127.0.0.1 */
  host: string;
  url: string;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The registry's configuration; JSON is YAML, and it spares us quoting rules. */
function registryConfig(opts: RegistryOptions, port: number): object {
  const auth =
    opts.auth.kind === "htpasswd"
      ? { htpasswd: { realm: "burrow-test", path: opts.auth.file } }
      : opts.auth.kind === "token"
        ? {
            token: {
              realm: opts.auth.realm,
              service: opts.auth.service,
              issuer: opts.auth.issuer,
              rootcertbundle: opts.auth.rootCertBundle,
            },
          }
        : undefined;
  return {
    version: "0.1",
    log: { level: "warn", accesslog: { disabled: true }, formatter: "text" },
    storage: {
      filesystem: { rootdirectory: path.join(opts.dir, "data") },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      secret: randomBytes(16).toString("hex"),
      ...(opts.tls ? { tls: { certificate: opts.tls.cert, key: opts.tls.key } } : {}),
    },
    health: { storagedriver: { enabled: false } },
    ...(opts.schema1 ? { compatibility: { schema1: { enabled: true } } } : {}),
    ...(auth ? { auth } : {}),
  };
}

/** One GET /v2/: resolves with the status, rejects when nothing answers. */
function probe(url: string, ca: Buffer | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith("https:") ? https.get : http.get;
    const req = get(`${url}/v2/`, { ca, timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** Waits until `child` answers /v2/ with 200 or 401, or fails with its log when it exits or takes too long. */
async function waitUntilReady(
  url: string,
  child: ChildProcess,
  ca: Buffer | undefined,
  logFile: string,
): Promise<void> {
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = signal ?? String(code)));
  const deadline = Date.now() + 15_000;
  let lastError = "";
  while (Date.now() < deadline) {
    if (exited !== undefined) break;
    try {
      const status = await probe(url, ca);
      if (status === 200 || status === 401) return;
      lastError = `GET /v2/ answered ${status}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").trim() : "";
  const why = exited !== undefined ? `exited (${exited})` : `did not answer within 15 s (${lastError})`;
  throw new Error(`docker-registry at ${url} ${why}; its log:\n${log}`);
}

/** Starts one registry on a free loopback port and waits until it answers /v2/. */
export async function startRegistry(opts: RegistryOptions): Promise<RunningRegistry> {
  fs.mkdirSync(path.join(opts.dir, "data"), { recursive: true });
  const ca = opts.tls ? fs.readFileSync(opts.tls.ca) : undefined;
  let lastErr: unknown;
  // A port can be taken between freePort() and the registry's bind; a few tries make that harmless.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const configFile = path.join(opts.dir, "config.yml");
    fs.writeFileSync(configFile, JSON.stringify(registryConfig(opts, port), null, 2));
    const logFile = path.join(opts.dir, "registry.log");
    const logFd = fs.openSync(logFile, "w");
    // setpriv --pdeathsig: the registry dies with the harness even when the harness is killed outright.
    const child = spawn(
      "setpriv",
      ["--pdeathsig", "SIGTERM", "--", opts.binary ?? "docker-registry", "serve", configFile],
      { stdio: ["ignore", logFd, logFd] },
    );
    fs.closeSync(logFd);
    const host = `127.0.0.1:${port}`;
    const url = `${opts.tls ? "https" : "http"}://${host}`;
    try {
      await waitUntilReady(url, child, ca, logFile);
    } catch (err) {
      child.kill("SIGKILL");
      lastErr = err;
      if (/address already in use/.test((err as Error).message)) continue;
      throw err;
    }
    const stop = (): Promise<void> =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill("SIGTERM");
      });
    return { name: opts.name, host, url, pid: child.pid!, logFile, stop };
  }
  throw lastErr;
}
