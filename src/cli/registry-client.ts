// Builds the registry client a command uses from the configuration and the store's credentials.
import type { Config } from "../config.js";
import type { Store } from "../store/store.js";
import type { Credentials } from "../registry/credentials.js";
import type { RegistryClient } from "../registry/client.js";
import { isInsecureRegistry } from "../config.js";
import { packageVersion } from "../package-info.js";

/**
 * A client that knows which registries are insecure, where credentials live, which mirrors stand in for
 * which registry (README: Mirrors) and whether burrow is offline. `registryArg` (a
 * `--registry=http://...` URL) marks that registry insecure when its scheme is plain HTTP. `login`
 * passes the credentials to check in `override`.
 */
export async function makeRegistryClient(
  config: Config,
  store: Store,
  registryArg?: string,
  override?: Credentials,
  debug?: (line: string) => void,
): Promise<RegistryClient> {
  const { RegistryClient } = await import("../registry/client.js");
  const { getCredentials } = await import("../registry/credentials.js");
  const { parseRegistryArg } = await import("../registry/reference.js");
  const { mirrorRuleFor } = await import("../registry/mirrors.js");
  const plainHttp = new Set<string>();
  if (registryArg !== undefined) {
    const arg = parseRegistryArg(registryArg);
    if (arg.scheme === "http") plainHttp.add(arg.registry);
  }
  const paths = { storeDir: store.paths.root, dockerConfigDir: config.dockerConfigDir };
  return new RegistryClient({
    insecure: (registry) => plainHttp.has(registry) || isInsecureRegistry(config, registry),
    credentials: (registry) => override ?? getCredentials(paths, registry),
    userAgent: `burrow/${packageVersion()} node/${process.version}`,
    proxy: { httpsProxy: config.httpsProxy, httpProxy: config.httpProxy, noProxy: config.noProxy },
    // However the registry was named (`--registry=https://registry-1.docker.io` too), its mirrors apply.
    mirrors: (registry) => mirrorRuleFor(config.mirrors, registry),
    offline: config.offline,
    ...(debug ? { debug } : {}),
  });
}
