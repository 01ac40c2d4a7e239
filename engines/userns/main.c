/* burrow-ns: runs one program in new user and mount namespaces (and pid and UTS ones when
 * asked), with the mounts the TypeScript side planned. It makes no decisions: everything comes
 * from the command line, is checked before any namespace exists, then applied in the fixed
 * sequence of main() below. See README.md for the interface. */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "burrow-ns.h"

/* Prints "burrow-ns: <what failed>[: <strerror>]" and exits with the reserved status. The only
 * way out of the helper on failure; errno is read first, before anything can change it. What
 * failed may name paths from the image: it is printed printable. */
__attribute__((noreturn)) static void die(void)
{
	int err = errno;

	fputs("burrow-ns: ", stderr);
	put_printable(stderr, fail_message());
	if (err != 0)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	replay_failed();
	exit(EXIT_HELPER);
}

/* Maps the container's one uid and gid to the caller's, the only mapping an unprivileged
 * process may write. setgroups must be denied before gid_map (else the kernel refuses it: a
 * process could drop a group that denies it access). */
int write_id_maps(uid_t inside_uid, gid_t inside_gid, uid_t outside_uid, gid_t outside_gid)
{
	char line[64];

	snprintf(line, sizeof line, "%u %u 1\n", inside_uid, outside_uid);
	if (write_file("/proc/self/uid_map", line) < 0)
		return -1;
	if (write_file("/proc/self/setgroups", "deny") < 0)
		return -1;
	snprintf(line, sizeof line, "%u %u 1\n", inside_gid, outside_gid);
	return write_file("/proc/self/gid_map", line);
}

/* --map-all: becomes --uid/--gid with no supplementary groups, all three ids (real, effective,
 * saved) so that the program cannot return to root. */
static int become_user(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) < 0)
		return fail("setgroups");
	if (setresgid(gid, gid, gid) < 0)
		return fail("setresgid %u", gid);
	if (setresuid(uid, uid, uid) < 0)
		return fail("setresuid %u", uid);
	return 0;
}

/* Whether the program's --uid/--gid live in a user namespace of their own, nested in the one the
 * mounts are made in (which maps container root to the caller). So with a SquashFS root: its files
 * belong to root in the file (mksquashfs -all-root), and SquashFUSE reports them as such; a namespace
 * that mapped the caller to the --uid instead would leave root unmapped, and every file of the image
 * would read as owned by nobody, not writable by the image's own user. Nested, the caller is the --uid
 * and root of the image's files at once, as in a folder image. --join gets the ids of the container it
 * enters in that case (engines/userns/index.ts). */
static bool nested_ids(const struct config *cfg)
{
	return (cfg->squashfs != NULL || cfg->join_pid != 0) && !cfg->map_all &&
	       (cfg->uid != 0 || cfg->gid != 0);
}

/* Last before exec, in the new root: the nested user namespace, mapping --uid/--gid to our ids (root
 * of the namespace the mounts were made in). Written through the container's /proc. */
static int enter_nested_ids(uid_t uid, gid_t gid)
{
	if (unshare(CLONE_NEWUSER) < 0)
		return fail("unshare(user) for --uid %u", uid);
	if (write_id_maps(uid, gid, 0, 0) < 0) {
		char why[256];

		snprintf(why, sizeof why, "%s", fail_message());
		return fail("%s (a non-root --uid on a SquashFS root is made through the container's "
			    "/proc)", why);
	}
	return 0;
}

/* Reports an exec failure the way a shell does: 127 when not found, 126 when not executable.
 * The program's name comes from the image or the command line: it is printed printable. */
static int exec_failed(const char *prog, int err)
{
	fputs("burrow-ns: ", stderr);
	put_printable(stderr, prog);
	if (err == ENOENT) {
		if (strchr(prog, '/') != NULL)
			fprintf(stderr, ": %s\n", strerror(err));
		else
			fputs(": command not found\n", stderr);
		return EXIT_NOT_FOUND;
	}
	fprintf(stderr, ": cannot execute: %s\n", strerror(err));
	return EXIT_CANNOT_EXEC;
}

/* Runs the helper on argv. replayed: this process is burrow itself (replay.c), not a child of it. */
int helper_main(int argc, char **argv, bool replayed)
{
	struct config cfg;
	enum parse_result what;
	struct tty_state tty = {.fd = -1};
	struct scratch scratch = {.fd = -1, .parent_fd = -1, .name = NULL};
	sigset_t caller_mask;
	uid_t outside_uid = getuid();
	gid_t outside_gid = getgid();
	int ns_flags = CLONE_NEWUSER | CLONE_NEWNS;
	int status;
	pid_t pid;
	pid_t parent;

	/* A setuid or setgid install would lend the owner's powers to every caller: refuse. */
	if (getuid() != geteuid() || getgid() != getegid()) {
		fail_errno(0, "refusing to run setuid or setgid");
		die();
	}
	/* We die with the burrow process that started us (killed with SIGKILL, say), and the container
	 * with us: init dies with us (below), and without --pid the program keeps this across exec.
	 * If that process went before the prctl, we have been reparented already: leave now. A
	 * replayed run is that burrow process: it lives on as burrow would without its caller. */
	parent = getppid();
	if (!replayed && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		fail("prctl(PR_SET_PDEATHSIG)");
		die();
	}
	if (!replayed && getppid() != parent) {
		fail_errno(0, "the burrow process that started us is gone");
		die();
	}
	/* --set-xattrs ROOT: the flattener's other use of the helper (xattrs.c), no namespaces. */
	if (argc == 3 && strcmp(argv[1], "--set-xattrs") == 0) {
		if (set_xattrs(argv[2]) < 0)
			die();
		return 0;
	}
	/* --squashfs-enter: the runc engine's way into a shared SquashFS mount (share.c). */
	if (argc >= 2 && strcmp(argv[1], "--squashfs-enter") == 0) {
		share_remember_args(argc, argv);
		if (squashfs_enter(argc, argv) == -1)
			die();
		return exec_failed(argv[7], errno);
	}
	/* Parse every argument into the config and op list, then check all of it against the host,
	 * before touching a namespace: a mistake costs nothing and says exactly what was wrong. */
	if (parse_args(argc, argv, &cfg, &what) < 0)
		die();
	share_remember_args(argc, argv);
	if (what == PARSE_HELP) {
		print_usage();
		return 0;
	}
	if (what == PARSE_VERSION) {
		printf("burrow-ns %s (interface %d)\n", BURROW_NS_VERSION, BURROW_NS_INTERFACE);
		return 0;
	}
	if (validate_config(&cfg) < 0)
		die();
	/* A replay releases its hold in the outer helper of --pid, after the container. */
	if (replayed && (!cfg.pid_ns || cfg.remove_after == NULL || cfg.join_pid != 0)) {
		fail_errno(0, "a replayed run needs --pid and --remove-after");
		die();
	}
	/* --join: enter a running container's namespaces instead of making new ones (join.c). */
	if (cfg.join_pid != 0) {
		int r = join_container(&cfg, &tty, &caller_mask, &status);

		if (r < 0)
			die();
		if (r > 0)
			return exit_status_of(status);
		goto exec_program;
	}
	/* --squashfs-share: find or start the keeper of the image's mount (share.c), before our cgroup:
	 * the keeper is not this run's, and outlives it. */
	if (cfg.squashfs_share != NULL && share_acquire(&cfg) < 0)
		die();
	/* The cgroup first, while our pid is still the host's: all that follows is charged to it. */
	if (join_cgroup(&cfg) < 0)
		die();

	/* New user and mount namespaces: the mounts below are ours alone and need no privilege.
	 * UTS for --hostname; pid for --pid (it applies to our children, see the fork below). */
	if (cfg.hostname != NULL)
		ns_flags |= CLONE_NEWUTS;
	if (cfg.pid_ns)
		ns_flags |= CLONE_NEWPID;
	/* With the user namespace in one call: the new network namespace is owned by it, so we may
	 * configure it (and the caller's slirp4netns, our user outside, may join it). */
	if (cfg.net_ns)
		ns_flags |= CLONE_NEWNET;
	/* --map-all: the caller is root of a user namespace that maps many ids (burrow build's, with
	 * the user's subordinate ids): the mounts need no namespace of our own, and the program's
	 * ids stay real, so the owners it gives files are kept. */
	if (cfg.map_all)
		ns_flags &= ~CLONE_NEWUSER;
	/* With a shared SquashFS mount: the keeper's user namespace, which maps root to the caller. */
	if (share_active()) {
		if (share_enter_userns() < 0)
			die();
		ns_flags &= ~CLONE_NEWUSER;
	}
	if (unshare(ns_flags) < 0) {
		fail("unshare (are unprivileged user namespaces enabled?)");
		die();
	}
	/* The single-id map: the container's uid/gid are the caller's, so files the program creates
	 * in binds belong to the caller outside. --map-all keeps the caller's namespace and its ids. */
	if (!cfg.map_all && !share_active() &&
	    write_id_maps(nested_ids(&cfg) ? 0 : cfg.uid, nested_ids(&cfg) ? 0 : cfg.gid, outside_uid,
			  outside_gid) < 0)
		die();
	/* A new network namespace has lo down; with --net-sync, the caller attaches its network
	 * stack to our pid (in the namespace now) before we go on. */
	if (cfg.net_ns && (loopback_up() < 0 || net_sync(&cfg) < 0))
		die();
	/* The host name lives in the new UTS namespace only. */
	if (cfg.hostname != NULL && sethostname(cfg.hostname, strlen(cfg.hostname)) < 0) {
		fail("--hostname %s", cfg.hostname);
		die();
	}

	cfg.outer_pid = getpid();
	if (cfg.pid_ns) {
		/* The new pid namespace starts with our first child, its init. Signals are blocked
		 * before the fork so that none sent meanwhile is lost. */
		find_foreground_tty(&tty);
		/* The scratch folder is opened now: after the container's pivot_root, the host's
		 * root is no longer ours to find it by path. */
		if (cfg.remove_after != NULL && open_scratch(&cfg, &scratch) < 0)
			die();
		if (block_forwarded_signals(&caller_mask) < 0)
			die();
		pid = fork();
		if (pid < 0) {
			fail("fork the container's init");
			die();
		}
		if (pid > 0) {
			/* The outer helper: pass signals to init, give the terminal back, report. */
			if (wait_and_forward(pid, &status) < 0)
				die();
			restore_foreground(&tty);
			remove_scratch(&scratch);
			replay_finish(exit_status_of(status));
			return exit_status_of(status);
		}
		/* init (pid 1): killed with the outer helper, so a killed run leaves nothing behind
		 * (init's death takes the whole pid namespace with it). */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
			fail("prctl(PR_SET_PDEATHSIG)");
			die();
		}
		/* Its own process group: a signal to the caller's group reaches the program once,
		 * through the outer helper, and not a second time directly. */
		if (setpgid(0, 0) < 0) {
			fail("setpgid");
			die();
		}
	}

	/* The mounts: isolate the tree and put the root in place, the planned ops in order, then
	 * the optional read-only root (after the ops, which may need to create mount points). */
	if (setup_root(&cfg) < 0 || apply_ops(&cfg) < 0 || finish_root(&cfg) < 0)
		die();
	/* pivot_root into the new root and detach the old one: no host path is left reachable. */
	if (enter_root(&cfg) < 0)
		die();
	/* No exec may gain privileges (setuid files, file capabilities); seccomp requires it too. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		fail("prctl(PR_SET_NO_NEW_PRIVS)");
		die();
	}

	if (cfg.pid_ns) {
		/* init forks the program and stays pid 1: a pid 1 ignores signals it has no handler
		 * for, so the program must not be it. init forwards, reaps, and exits with the
		 * program's status (the kernel then kills whatever is left in the namespace). */
		if (cfg.host_pid)
			program_pid_like_host(cfg.outer_pid);
		pid = fork();
		if (pid < 0) {
			fail("fork the program");
			die();
		}
		if (pid > 0) {
			if (wait_and_forward(pid, &status) < 0)
				die();
			if (cfg.linger)
				linger_for_joined();
			return exit_status_of(status);
		}
		/* The program: its own process group, the terminal's foreground one when we were,
		 * and the caller's signal mask back. */
		if (setpgid(0, 0) < 0) {
			fail("setpgid");
			die();
		}
		if (become_foreground(&tty) < 0)
			die();
		if (sigprocmask(SIG_SETMASK, &caller_mask, NULL) < 0) {
			fail("sigprocmask");
			die();
		}
	}

	/* CPU affinity and resource limits: the program's alone (init above is not limited). */
	if (apply_limits(&cfg) < 0)
		die();
	/* --map-all: we are still the namespace's root; the program runs as the user asked. */
	if (cfg.map_all && (cfg.uid != 0 || cfg.gid != 0) && become_user(cfg.uid, cfg.gid) < 0)
		die();
exec_program:
	if (nested_ids(&cfg) && enter_nested_ids(cfg.uid, cfg.gid) < 0)
		die();
	/* Last before exec: the setup above needs the real chown and setuid calls. */
	if (cfg.fake_root && install_fake_root_filter() < 0)
		die();
	/* Our environment is the container's: execvp searches its PATH, inside the new root. */
	execvp(cfg.argv[0], cfg.argv);
	return exec_failed(cfg.argv[0], errno);
}

int main(int argc, char **argv)
{
	/* --replay LAUNCHER ARGS...: `burrow run` without Node when a record says how (replay.c). */
	if (argc >= 3 && strcmp(argv[1], "--replay") == 0)
		return replay_main(argc, argv);
	return helper_main(argc, argv, false);
}
