/*
 * burrow-runc-init: the program runc starts inside a burrow container (bound read-only at
 * /dev/.burrow-init). One job: optionally enter a nested single-id user namespace, optionally stay
 * pid 1 as a forwarding, reaping init, then exec the program. It makes no decisions; the TypeScript
 * side (engines/runc/config.ts) says what to do on the command line.
 *
 *   burrow-runc-init [--unmount=DIR] [--drop=FILE] [--uid=N --gid=N]
 *                    [--init [--lifeline=FD] [--proot]] -- PROGRAM [ARG...]
 *   burrow-runc-init --version
 *
 * --unmount=DIR: detach the mount at DIR first (runc needs a /proc until it execs us; burrow's
 *   --nosysdirs wants none).
 * --drop=FILE: detach the bind at FILE and remove its mount point (up to 8: with --nosysdirs,
 *   /dev is an empty folder that must stay empty, but runc needs /dev/null and we need ourselves).
 * --uid/--gid: runc 1.1 insists on mapping container root; burrow maps it (alone) to the invoking
 *   user, so a non-root container user N is made here: a nested user namespace where N is the
 *   caller's uid (container root, the invoking user outside). Needs /proc.
 * --init: fork the program and stay pid 1: a pid 1 ignores every signal it has no handler for, so
 *   the program must not be it. Signals runc forwards are passed on; orphans are reaped; the exit
 *   status is the program's (128 + N when signal N killed it).
 * --lifeline=FD (with --init): FD is a socket whose other end burrow holds, and nothing else. When
 *   it reads end-of-file, burrow is gone (killed with SIGKILL, say): init leaves at once, and with it
 *   the container (the kernel kills a pid namespace whose init is gone). Before init leaves after the
 *   program, the program's status is written to FD as one byte. The program does not inherit FD.
 * --proot (with --init): init runs under PRoot (the proot engine binds it in; no pid namespace, so
 *   leaving takes nothing with it): when the program is done, or burrow is gone, init sends SIGQUIT
 *   to its parent, PRoot, which then kills every process it traces (the program's orphans included).
 *   PRoot's own status is the last process's, so the status byte on FD is the program's status.
 *
 * Exit status: the program's; 125 when this helper fails (one line `burrow-runc-init: ...`);
 * 126/127 when PROGRAM cannot be executed / is not found (one line `burrow: PROG: ...`).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "../common/printable.h"

#define VERSION "1"
#define STATUS_FAILED 125

/* Prints `burrow-runc-init: WHAT: STRERROR` (errno saved first, WHAT printable: it may name a
 * path from the image) and exits 125. */
static void die(const char *fmt, ...)
{
	int saved = errno;
	char what[1024];
	va_list ap;

	fputs("burrow-runc-init: ", stderr);
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	put_printable(stderr, what);
	if (saved != 0)
		fprintf(stderr, ": %s", strerror(saved));
	fputc('\n', stderr);
	exit(STATUS_FAILED);
}

/* A decimal id in 0..2^32-2, or -1. */
static long parse_id(const char *s)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v >= 4294967295UL)
		return -1;
	return (long)v;
}

/* Writes `text` to `file` in one write(2), as /proc's id map files need. */
static void write_file(const char *file, const char *text)
{
	int fd;
	ssize_t n;
	size_t len = strlen(text);

	do
		fd = open(file, O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		die("open %s", file);
	do
		n = write(fd, text, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len)
		die("write %s", file);
	close(fd);
}

/* The nested user namespace: `uid`/`gid` inside are our ids (container root) outside. */
static void enter_user_namespace(long uid, long gid)
{
	char map[64];
	uid_t outer_uid = geteuid();
	gid_t outer_gid = getegid();

	if (unshare(CLONE_NEWUSER) < 0)
		die("unshare(CLONE_NEWUSER)");
	snprintf(map, sizeof map, "%ld %u 1\n", uid, (unsigned)outer_uid);
	write_file("/proc/self/uid_map", map);
	/* An unprivileged gid_map needs setgroups denied first. */
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "%ld %u 1\n", gid, (unsigned)outer_gid);
	write_file("/proc/self/gid_map", map);
}

/* Execs the program with the PATH of our environment (the container's); returns 126 or 127. */
static int exec_program(char **argv)
{
	int err;

	execvp(argv[0], argv);
	err = errno;
	/* The name comes from the image or the command line: printed printable. */
	fputs("burrow: ", stderr);
	put_printable(stderr, argv[0]);
	if (err == ENOENT || err == ENOTDIR) {
		if (strchr(argv[0], '/') != NULL)
			fputs(": No such file or directory\n", stderr);
		else
			fputs(": command not found\n", stderr);
		return 127;
	}
	fprintf(stderr, ": cannot execute: %s\n", strerror(err));
	return 126;
}

/* The signals passed on to the program (the ones runc forwards and users send). */
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

/* The shell-style status of a wait(2) status. */
static int status_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return STATUS_FAILED;
}

/* What init does besides forwarding and reaping (--lifeline, --proot). */
struct init_opts {
	int lifeline; /* -1: none */
	bool proot;
	pid_t proot_pid; /* our parent at the start, PRoot (with --proot) */
	pid_t program;   /* the program, leader of its own process group; 0 before the fork */
};

/* Whether the lifeline (non-blocking) reads end-of-file or fails: burrow is gone. */
static bool lifeline_gone(int fd)
{
	char byte;
	ssize_t n;

	do
		n = read(fd, &byte, 1);
	while (n < 0 && errno == EINTR);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Readies the lifeline: kept from the program (close-on-exec), non-blocking, and signalling
 * SIGIO to init when it changes (burrow's end closing makes it readable). */
static void watch_lifeline(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		die("--lifeline=%d", fd);
	if (fcntl(fd, F_SETOWN, getpid()) < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK | O_ASYNC) < 0)
		die("watch --lifeline=%d", fd);
}

/* Leaves init with the program's `status`: reports it on the lifeline, and under PRoot has PRoot
 * kill every process it traces (SIGQUIT: it kills its tracees, then exits). */
static int leave(const struct init_opts *o, int status, bool burrow_gone)
{
	if (o->lifeline >= 0 && !burrow_gone) {
		unsigned char byte = (unsigned char)status;

		/* MSG_NOSIGNAL: burrow going meanwhile must not kill us with SIGPIPE before PRoot's turn. */
		while (send(o->lifeline, &byte, 1, MSG_NOSIGNAL) < 0 && errno == EINTR)
			;
	}
	if (o->proot) {
		/* Only the PRoot we started under: once it is gone (killed), our parent is some
		 * reaper that is not ours to signal, and what PRoot traced is no longer traced:
		 * the program's process group (its background jobs) is ended here instead. */
		if (getppid() == o->proot_pid)
			(void)kill(o->proot_pid, SIGQUIT);
		else if (o->program > 0)
			(void)kill(-o->program, SIGKILL);
	}
	return status;
}

/* pid 1: fork the program, pass signals on, reap everything, exit with the program's status. */
static int run_as_init(char **argv, struct init_opts *o)
{
	sigset_t set, old;
	pid_t child;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(&set, forwarded[i]);
	sigaddset(&set, SIGCHLD);
	if (o->lifeline >= 0)
		sigaddset(&set, SIGIO);
	/* Blocked before the fork, so a signal sent meanwhile waits for sigwaitinfo. */
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0)
		die("sigprocmask");
	if (o->lifeline >= 0) {
		watch_lifeline(o->lifeline);
		/* Burrow may be gone already (before O_ASYNC was set, no SIGIO came). */
		if (lifeline_gone(o->lifeline))
			return leave(o, STATUS_FAILED, true);
	}
	child = fork();
	if (child < 0)
		die("fork the program");
	/* Both sides set the program's group, so that it exists before either goes on. */
	if (child > 0) {
		(void)setpgid(child, child);
		o->program = child;
	}
	if (child == 0) {
		/* The program: its own process group, the terminal's foreground one when there is a
		 * terminal, and the signal mask it would have had. */
		if (setpgid(0, 0) == 0 && isatty(STDIN_FILENO)) {
			sigset_t ttou;

			sigemptyset(&ttou);
			sigaddset(&ttou, SIGTTOU);
			sigprocmask(SIG_BLOCK, &ttou, NULL);
			(void)tcsetpgrp(STDIN_FILENO, getpid());
		}
		if (sigprocmask(SIG_SETMASK, &old, NULL) < 0)
			die("sigprocmask");
		return exec_program(argv);
	}
	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&set, &info);

		if (sig < 0) {
			if (errno == EINTR)
				continue;
			die("sigwaitinfo");
		}
		if (sig == SIGIO) {
			/* burrow is gone: so is the container (see --lifeline). */
			if (lifeline_gone(o->lifeline))
				return leave(o, STATUS_FAILED, true);
			continue;
		}
		if (sig != SIGCHLD) {
			(void)kill(child, sig);
			continue;
		}
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);

			if (pid < 0 && errno == EINTR)
				continue;
			if (pid <= 0)
				break;
			/* The program is done: leaving takes the rest of the pid namespace with us. */
			if (pid == child)
				return leave(o, status_of(status), false);
		}
	}
}

int main(int argc, char **argv)
{
	long uid = -1, gid = -1;
	bool init = false;
	struct init_opts opts = {.lifeline = -1, .proot = false, .proot_pid = getppid(), .program = 0};
	const char *unmount = NULL, *drop[8];
	size_t drops = 0, d;
	int i;

	/* Parse and check everything before acting. */
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strncmp(a, "--uid=", 6) == 0) {
			if ((uid = parse_id(a + 6)) < 0)
				die("invalid %s", a);
		} else if (strncmp(a, "--gid=", 6) == 0) {
			if ((gid = parse_id(a + 6)) < 0)
				die("invalid %s", a);
		} else if (strncmp(a, "--unmount=", 10) == 0 && a[10] == '/') {
			unmount = a + 10;
		} else if (strncmp(a, "--drop=", 7) == 0 && a[7] == '/' && drops < sizeof drop / sizeof drop[0]) {
			drop[drops++] = a + 7;
		} else if (strcmp(a, "--init") == 0) {
			init = true;
		} else if (strncmp(a, "--lifeline=", 11) == 0) {
			long fd = parse_id(a + 11);

			if (fd < 3 || fd > INT_MAX)
				die("invalid %s (a descriptor above 2)", a);
			opts.lifeline = (int)fd;
		} else if (strcmp(a, "--proot") == 0) {
			opts.proot = true;
		} else if (strcmp(a, "--version") == 0) {
			printf("burrow-runc-init %s\n", VERSION);
			return 0;
		} else {
			errno = 0;
			die("unknown option %s (usage: burrow-runc-init [--unmount=DIR] [--drop=FILE] [--uid=N --gid=N] [--init [--lifeline=FD] [--proot]] -- PROGRAM...)", a);
		}
	}
	errno = 0;
	if (i >= argc)
		die("no program to run");
	if ((uid < 0) != (gid < 0))
		die("--uid and --gid go together");
	if ((opts.lifeline >= 0 || opts.proot) && !init)
		die("--lifeline and --proot need --init");
	if (getuid() != geteuid() || getgid() != getegid())
		die("refusing to run setuid or setgid");

	/* Before the nested namespace, where the mount would be locked. */
	if (unmount != NULL && umount2(unmount, MNT_DETACH) < 0)
		die("unmount %s", unmount);
	for (d = 0; d < drops; d++)
		if (umount2(drop[d], MNT_DETACH) < 0 || unlink(drop[d]) < 0)
			die("remove %s", drop[d]);
	if (uid >= 0)
		enter_user_namespace(uid, gid);
	if (init)
		return run_as_init(argv + i, &opts);
	return exec_program(argv + i);
}
