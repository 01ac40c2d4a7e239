// `burrow login`: checks credentials against a registry and stores them (0600) for later pulls.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Reads all of a stream (for --password-stdin). */
async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks).toString("utf8");
}

/** Asks a question on the terminal; hides what is typed when `secret`. */
async function prompt(
  question: string,
  secret: boolean,
  stdin: NodeJS.ReadStream,
  out: NodeJS.WritableStream,
): Promise<string> {
  out.write(question);
  if (!secret) {
    const { createInterface } = await import("node:readline/promises");
    const rl = createInterface({ input: stdin, terminal: false });
    try {
      for await (const line of rl) return line;
      return "";
    } finally {
      rl.close();
    }
  }
  return new Promise((resolve) => {
    let value = "";
    stdin.setRawMode(true);
    stdin.resume();
    const onData = (buf: Buffer): void => {
      for (const ch of buf.toString("utf8")) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off("data", onData);
          out.write("\n");
          resolve(value);
          return;
        }
        if (ch === "\u0003") {
          stdin.setRawMode(false);
          process.exit(130);
        }
        if (ch === "\u007f") value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

/** Logs in to a registry: the credentials are checked first, then stored. */
export class LoginCommand extends BurrowCommand {
  static override paths = [["login"]];
  static override usage = BurrowCommand.Usage({
    description: "Log in to a registry (default: Docker Hub)",
    details:
      "The credentials are checked against the registry, then stored in the store's credentials.json with mode 0600. They are never printed. Credentials in docker's config.json ($DOCKER_CONFIG) are used too without logging in.",
    examples: [
      ["Log in interactively", "$0 login registry.example.org"],
      ["From a script", 'echo "$TOKEN" | $0 login --username me --password-stdin registry.example.org'],
      ["udocker's form", "$0 login --registry=https://registry.example.org --username me --password secret"],
    ],
  });

  username = Option.String("-u,--username", { description: "User name" });
  password = Option.String("-p,--password", {
    description: "Password (prefer --password-stdin: this shows in ps)",
  });
  passwordStdin = Option.Boolean("--password-stdin", false, {
    description: "Read the password from standard input",
  });
  registryOpt = Option.String("--registry", { description: "Registry URL or host[:port]" });
  registryArg = Option.String({ name: "REGISTRY", required: false });

  async run(): Promise<number> {
    const { UsageError } = await import("clipanion");
    const { parseRegistryArg, DOCKER_HUB } = await import("../registry/reference.js");
    if (this.registryOpt !== undefined && this.registryArg !== undefined) {
      throw new UsageError("give the registry once: either --registry=URL or REGISTRY");
    }
    const raw = this.registryOpt ?? this.registryArg;
    const registry = raw === undefined ? DOCKER_HUB : parseRegistryArg(raw).registry;
    if (this.password !== undefined && this.passwordStdin) {
      throw new UsageError("--password and --password-stdin cannot be used together");
    }
    const stdin = this.context.stdin as NodeJS.ReadStream;
    const interactive = stdin.isTTY === true;
    let username = this.username;
    if (username === undefined) {
      if (!interactive || this.passwordStdin) throw new UsageError("give --username (no terminal to ask on)");
      username = (await prompt("Username: ", false, stdin, this.context.stderr)).trim();
    }
    let password = this.password;
    if (this.passwordStdin) {
      password = (await readAll(stdin)).replace(/\r?\n$/, "");
    } else if (password === undefined) {
      if (!interactive) throw new UsageError("give --password-stdin or --password (no terminal to ask on)");
      password = await prompt("Password: ", true, stdin, this.context.stderr);
    }
    if (username.length === 0 || password.length === 0)
      throw new UsageError("the user name and password must not be empty");
    const config = await this.config();
    const store = await this.store();
    const { makeRegistryClient } = await import("./registry-client.js");
    const { saveCredentials } = await import("../registry/credentials.js");
    const client = await makeRegistryClient(config, store, raw, { username, password });
    await client.ping(registry);
    saveCredentials(store.paths.root, registry, { username, password });
    this.context.stdout.write(`Login Succeeded (${registry})\n`);
    return 0;
  }
}
