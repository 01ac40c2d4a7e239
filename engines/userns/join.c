/* burrow-ns: --join=PID, the mode behind `burrow exec`. Instead of making namespaces, it enters
 * those of a running container's process PID (ours: same uid, so no privilege is needed): user
 * first (it gives us the capabilities the other joins need), then mount, UTS and pid. The pid
 * namespace applies to children, so one fork follows; the parent forwards signals and reports
 * the program's status, as the outer helper of --pid does. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "burrow-ns.h"

/* The namespaces joined, in the order they must be joined. */
static const struct {
	const char *name;
	int type;
} joined[] = {
	{"user", CLONE_NEWUSER},
	{"mnt", CLONE_NEWNS},
	{"uts", CLONE_NEWUTS},
	{"pid", CLONE_NEWPID},
};

#define N_JOINED (sizeof joined / sizeof joined[0])

/* Only what makes sense for a process entering a container that exists: no root, mounts or new
 * namespaces (the container has them). */
int validate_join(const struct config *cfg)
{
	if (cfg->rootfs != NULL || cfg->lower != NULL || cfg->n_ops > 0 || cfg->hostname != NULL ||
	    cfg->pid_ns || cfg->readonly_root || cfg->remove_after != NULL || cfg->new_devpts)
		return fail_errno(0, "--join takes only --cwd and --fake-root (the container has its "
				     "root, mounts and namespaces)");
	/* --uid/--gid: the container's program runs as them in a namespace nested in the container's
	 * (a SquashFS root, main.c): the joined program makes its own the same way. */
	return 0;
}

/* Opens /proc/PID/<what> (O_PATH-free: setns and fchdir need real descriptors). */
static int open_proc(pid_t pid, const char *what, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
	do
		fd = open(path, flags | O_RDONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return fail("--join %d: open %s (is the container still running?)", (int)pid, path);
	return fd;
}

/* Whether namespace descriptor fd is the one we are in already (setns into one's own user
 * namespace fails, and one the container did not make is the host's, which we are in). */
static int is_own(int fd, const char *name)
{
	char path[64];
	struct stat mine, theirs;

	snprintf(path, sizeof path, "/proc/self/ns/%s", name);
	if (stat(path, &mine) < 0 || fstat(fd, &theirs) < 0)
		return fail("--join: stat the %s namespace", name);
	return mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino;
}

/* Enters the namespaces and root of cfg->join_pid and forks the program's process. Returns 1 in
 * the parent once the program is gone (*wstatus is its wait status), 0 in the child, ready to
 * exec in the container's root and cwd, -1 on failure (errno kept). */
int join_container(const struct config *cfg, struct tty_state *tty, sigset_t *caller_mask, int *wstatus)
{
	int fds[N_JOINED];
	int own[N_JOINED];
	int root_fd;
	pid_t pid;

	/* Everything is opened first, through the host's /proc: after the mount namespace changes,
	 * /proc/PID names another process, or none. */
	for (size_t i = 0; i < N_JOINED; i++) {
		char what[16];

		snprintf(what, sizeof what, "ns/%s", joined[i].name);
		fds[i] = open_proc(cfg->join_pid, what, 0);
		if (fds[i] < 0)
			return -1;
		own[i] = is_own(fds[i], joined[i].name);
		if (own[i] < 0)
			return -1;
	}
	root_fd = open_proc(cfg->join_pid, "root", O_DIRECTORY);
	if (root_fd < 0)
		return -1;
	/* In order: user (capabilities in the container), then mount, UTS, pid. */
	for (size_t i = 0; i < N_JOINED; i++) {
		if (!own[i] && setns(fds[i], joined[i].type) < 0)
			return fail("--join %d: setns(%s)", (int)cfg->join_pid, joined[i].name);
		close(fds[i]);
	}
	/* setns(mnt) leaves us at the namespace's first root, not the container's pivoted one:
	 * take the container process's own root (as nsenter --root does), then the cwd. */
	if (fchdir(root_fd) < 0 || chroot(".") < 0)
		return fail("--join %d: enter the container's root", (int)cfg->join_pid);
	close(root_fd);
	if (chdir(cfg->cwd != NULL ? cfg->cwd : "/") < 0)
		return fail("--cwd %s", cfg->cwd != NULL ? cfg->cwd : "/");
	/* No exec may gain privileges; seccomp (--fake-root) requires it too. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail("prctl(PR_SET_NO_NEW_PRIVS)");

	/* The pid namespace is our children's: fork once. Signals are blocked before the fork so
	 * that none sent meanwhile is lost; the parent forwards them. */
	find_foreground_tty(tty);
	if (block_forwarded_signals(caller_mask) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return fail("fork the program");
	if (pid > 0) {
		if (wait_and_forward(pid, wstatus) < 0)
			return -1;
		restore_foreground(tty);
		return 1;
	}
	/* The program: its own process group (the terminal's foreground one when we were), and
	 * the caller's signal mask back. */
	if (setpgid(0, 0) < 0)
		return fail("setpgid");
	if (become_foreground(tty) < 0)
		return -1;
	if (sigprocmask(SIG_SETMASK, caller_mask, NULL) < 0)
		return fail("sigprocmask");
	return 0;
}
