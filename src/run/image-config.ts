// The parts of an OCI/Docker image config that decide how a container runs.

/** `config` of an image config JSON (Docker's capitalised names, as the OCI image spec keeps them). */
export interface ContainerConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
}

/** Reads `config` out of an image config blob, tolerating missing or null fields. */
export function containerConfig(configJson: unknown): ContainerConfig {
  const c = (configJson as { config?: unknown } | null)?.config;
  return c && typeof c === "object" ? (c as ContainerConfig) : {};
}
