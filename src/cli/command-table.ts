// Every command by name, each imported only when it is used (the file under src/cli/ that holds it).
import type { CommandClass } from "clipanion";
import type { BurrowContext } from "./base.js";

/** A command class, imported on demand. */
export type Loader = () => Promise<CommandClass<BurrowContext>>;

/** The commands by name (the file under src/cli/ that holds each), each imported only when it is used. */
export const commands: Record<string, Loader> = {
  help: async () => (await import("./help.js")).HelpCommand,
  version: async () => (await import("./version.js")).VersionCommand,
  showconf: async () => (await import("./showconf.js")).ShowconfCommand,
  pull: async () => (await import("./pull.js")).PullCommand,
  images: async () => (await import("./images.js")).ImagesCommand,
  rmi: async () => (await import("./rmi.js")).RmiCommand,
  tag: async () => (await import("./tag.js")).TagCommand,
  inspect: async () => (await import("./inspect.js")).InspectCommand,
  verify: async () => (await import("./verify.js")).VerifyCommand,
  login: async () => (await import("./login.js")).LoginCommand,
  logout: async () => (await import("./logout.js")).LogoutCommand,
  info: async () => (await import("./info.js")).InfoCommand,
  run: async () => (await import("./run.js")).RunCommand,
  install: async () => (await import("./install.js")).InstallCommand,
  setup: async () => (await import("./setup.js")).SetupCommand,
  export: async () => (await import("./export.js")).ExportCommand,
  import: async () => (await import("./import.js")).ImportCommand,
  mkrepo: async () => (await import("./mkrepo.js")).MkrepoCommand,
  save: async () => (await import("./save.js")).SaveCommand,
  load: async () => (await import("./load.js")).LoadCommand,
  create: async () => (await import("./create.js")).CreateCommand,
  ps: async () => (await import("./ps.js")).PsCommand,
  rm: async () => (await import("./rm.js")).RmCommand,
  name: async () => (await import("./name.js")).NameCommand,
  rmname: async () => (await import("./rmname.js")).RmnameCommand,
  rename: async () => (await import("./rename.js")).RenameCommand,
  clone: async () => (await import("./clone.js")).CloneCommand,
  protect: async () => (await import("./protect.js")).ProtectCommand,
  unprotect: async () => (await import("./unprotect.js")).UnprotectCommand,
  exec: async () => (await import("./exec.js")).ExecCommand,
  logs: async () => (await import("./logs.js")).LogsCommand,
  stop: async () => (await import("./stop.js")).StopCommand,
  __supervise: async () => (await import("./supervise.js")).SuperviseCommand,
  push: async () => (await import("./push.js")).PushCommand,
  history: async () => (await import("./history.js")).HistoryCommand,
  build: async () => (await import("./build.js")).BuildCommand,
  search: async () => (await import("./search.js")).SearchCommand,
};

/** Every command class (help lists them all; clipanion parses what the direct reader leaves alone). */
export async function loadAllCommands(): Promise<CommandClass<BurrowContext>[]> {
  return Promise.all(Object.values(commands).map((load) => load()));
}
