// The program to run: ENTRYPOINT and CMD combined the way docker combines them.
import { InvalidArgumentError } from "../errors.js";

/** What `--entrypoint` and the command-line arguments asked for. */
export interface CommandOverrides {
  /** `--entrypoint`: undefined keeps the image's; "" clears it; otherwise replaces it. */
  entrypoint?: string | undefined;
  /** Arguments after the image name; empty keeps the image's CMD. */
  args: string[];
}

/**
 * ENTRYPOINT + CMD: arguments replace CMD; `--entrypoint` replaces ENTRYPOINT (and, as in docker,
 * drops the image's CMD); `--entrypoint ""` clears it.
 */
export function resolveArgv(
  image: { Entrypoint?: string[] | null; Cmd?: string[] | null },
  o: CommandOverrides,
): string[] {
  let entrypoint = image.Entrypoint ?? [];
  let cmd = image.Cmd ?? [];
  if (o.entrypoint !== undefined) {
    entrypoint = o.entrypoint === "" ? [] : [o.entrypoint];
    cmd = [];
  }
  if (o.args.length > 0) cmd = o.args;
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) {
    throw new InvalidArgumentError(
      "no command to run: the image has no ENTRYPOINT or CMD; give one after the image name",
    );
  }
  return argv;
}
