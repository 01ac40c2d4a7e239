// `burrow run`: runs a command in an image (private writable layer) or a named container.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Runs a program in a container, docker-style; exits with the program's status. */
export class RunCommand extends BurrowCommand {
  static override paths = [["run"]];
  static override usage = BurrowCommand.Usage({
    description: "Run a command in an image or a named container",
    details: `
      Runs COMMAND (or the image's ENTRYPOINT and CMD) with no root and no daemon. The image's rootfs is shared and stays read-only underneath; a run writes to a private layer that is discarded when it exits, unless it runs in a named container (\`--name\`), which keeps its changes.

      Exit status: the program's own; 125 when burrow fails, 126 when the command cannot be executed, 127 when it is not found. Standard input is passed through (\`-i\` is accepted for docker habits).
    `,
    examples: [
      ["Run a command", "$0 run alpine echo hi"],
      ["Build in the current folder", "$0 run -v $PWD:/work -w /work debian:bookworm make"],
      ["Keep changes in a named container", "$0 run --name dev alpine apk add gcc"],
      ["Run a plain rootfs folder", "$0 run --location ./rootfs /bin/sh"],
      ["Run a service in the background", "$0 run -d --name web alpine httpd -f"],
      ["Use the host's NVIDIA GPUs", "$0 run --gpu nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04 nvidia-smi"],
      ["Add a device described by a CDI spec", "$0 run --device nvidia.com/gpu=all IMAGE nvidia-smi"],
    ],
  });

  engine = Option.String("--engine", {
    description: "Engine to use: userns (default where it works), proot, runc",
  });
  volumes = Option.Array("-v,--volume", [], { description: "Bind HOST[:CONTAINER[:ro]] into the container" });
  env = Option.Array("-e,--env", [], { description: "Set NAME=VALUE, or pass NAME from the host" });
  envFiles = Option.Array("--env-file", [], {
    description: "Read variables from a file of NAME=VALUE lines",
  });
  workdir = Option.String("-w,--workdir", { description: "Working directory inside the container" });
  user = Option.String("-u,--user", {
    description: "Run as name|uid[:group|gid] (default: the image's User, else root)",
  });
  entrypoint = Option.String("--entrypoint", {
    description: 'Replace the image\'s ENTRYPOINT ("" clears it)',
  });
  rm = Option.Boolean("--rm", false, { description: "Remove the named container when the command exits" });
  name = Option.String("--name", { description: "Run in a new named container that keeps its changes" });
  hostname = Option.String("--hostname", {
    description: "Host name inside the container (default: the host's)",
  });
  hostauth = Option.Boolean("--hostauth", false, {
    description: "Add your host account and group to the container's passwd/group",
  });
  nosysdirs = Option.Boolean("--nosysdirs", false, { description: "Do not mount /proc, /dev and /sys" });
  bindhome = Option.Boolean("--bindhome", false, {
    description: "Bind your home folder at the same path and use it as HOME",
  });
  pull = Option.String("--pull", "missing", {
    description: "Pull the image: missing (default), never, always",
  });
  platform = Option.String("--platform", { description: "Platform to pull, OS/ARCH[/VARIANT]" });
  tty = Option.Boolean("-t,--tty", false, { description: "Give the program a terminal (when stdin is one)" });
  interactive = Option.Boolean("-i,--interactive", false, { description: "Keep stdin open (it always is)" });
  location = Option.String("--location", { description: "Run the rootfs folder DIR instead of an image" });
  network = Option.String("--network,--net", {
    description: "host (default), none (loopback only), slirp (private, outbound through slirp4netns)",
  });
  publish = Option.Array("-p,--publish", [], {
    description: "With --network slirp: forward [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp] (host side 127.0.0.1)",
  });
  cpusetCpus = Option.String("--cpuset-cpus", { description: "CPUs the program may run on: 0, 0-2,5" });
  ulimits = Option.Array("--ulimit", [], {
    description: "Resource limit NAME=SOFT[:HARD] (nofile, nproc, core...)",
  });
  memory = Option.String("-m,--memory", {
    description: "Memory limit (512m, 2g); needs a delegated cgroup v2",
  });
  cpus = Option.String("--cpus", {
    description: "CPU time limit in CPUs (1.5); needs a delegated cgroup v2",
  });
  pidsLimit = Option.String("--pids-limit", {
    description: "Process count limit; needs a delegated cgroup v2",
  });
  detach = Option.Boolean("-d,--detach", false, {
    description: "Run in the background (output to `burrow logs`); prints the container id",
  });
  gpu = Option.Boolean("--gpu,--nv", false, {
    description: "Give the container the host's NVIDIA GPUs (devices, driver libraries, nvidia-smi)",
  });
  devices = Option.Array("--device", [], {
    description: "Add a CDI device VENDOR/CLASS=NAME (or =all), or a host device /dev/X[:/dev/Y]",
  });
  target = Option.String({ name: "IMAGE" });
  args = Option.Proxy();

  async run(): Promise<number> {
    const { isPullPolicy, runRequest } = await import("./run-request.js");
    if (!isPullPolicy(this.pull)) {
      const { UsageError } = await import("clipanion");
      throw new UsageError(`invalid --pull "${this.pull}": use missing, never or always`);
    }
    const request = runRequest(this, (this.context.stdin as NodeJS.ReadStream).isTTY === true);
    if (request.detach === true) {
      const { detachRun } = await import("../run/detach.js");
      return detachRun(this, request);
    }
    const { prepareRun } = await import("../run/prepare.js");
    return prepareRun(this, request);
  }
}
