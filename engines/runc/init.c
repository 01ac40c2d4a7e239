/*
 * burrow-runc-init: the program runc starts inside a burrow container (bound read-only at
 * /dev/.burrow-init). One job: optionally enter a nested single-id user namespace, optionally stay
 * pid 1 as a forwarding, reaping init, then exec the program. It makes no decisions; the TypeScript
 * side (engines/runc/config.ts) says what to do on the command line.
 *
 *   burrow-runc-init [--unmount=DIR] [--drop=FILE] [--uid=N --gid=N] [--init] -- PROGRAM [ARG...]
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
 *
 * Exit status: the program's; 125 when this helper fails (one line `burrow-runc-init: ...`);
 * 126/127 when PROGRAM cannot be executed / is not found (one line `burrow: PROG: ...`).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define VERSION "1"
#define STATUS_FAILED 125

/* The length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms, surrogates or
 * code points past U+10FFFF), or 0 when the byte there does not start one. */
static size_t utf8_length(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, k;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		hi = p[0] == 0xed ? 0x9f : 0xbf;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	/* A NUL ends the string and is no continuation byte: nothing past it is read. */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (k = 2; k < n; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	return n;
}

/* Writes s to f with its control characters shown, never sent, in the forms burrow's CLI uses
 * (src/cli/printable.ts; burrow-ns has the same in engines/userns/util.c): C0 and DEL as \xNN (\t, \n, \r by name), C1 as \u00NN, U+2028/9 as
 * \u2028/9, and a byte that is not part of valid UTF-8 as \xNN. Program names and paths come from
 * images: one must not drive the user's terminal. */
static void put_printable(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != 0) {
		size_t n = utf8_length(p);

		if (n == 0) {
			fprintf(f, "\\x%02x", *p);
			n = 1;
		} else if (*p == '\t') {
			fputs("\\t", f);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else if (*p == '\r') {
			fputs("\\r", f);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\x%02x", *p);
		} else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
			fprintf(f, "\\u%04x", p[1]);
		} else if (n == 3 && p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
			fprintf(f, "\\u%04x", 0x2000 + p[2] - 0x80);
		} else {
			fwrite(p, 1, n, f);
		}
		p += n;
	}
}

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

/* pid 1: fork the program, pass signals on, reap everything, exit with the program's status. */
static int run_as_init(char **argv)
{
	sigset_t set, old;
	pid_t child;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(&set, forwarded[i]);
	sigaddset(&set, SIGCHLD);
	/* Blocked before the fork, so a signal sent meanwhile waits for sigwaitinfo. */
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0)
		die("sigprocmask");
	child = fork();
	if (child < 0)
		die("fork the program");
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
				return status_of(status);
		}
	}
}

int main(int argc, char **argv)
{
	long uid = -1, gid = -1;
	bool init = false;
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
		} else if (strcmp(a, "--version") == 0) {
			printf("burrow-runc-init %s\n", VERSION);
			return 0;
		} else {
			errno = 0;
			die("unknown option %s (usage: burrow-runc-init [--unmount=DIR] [--drop=FILE] [--uid=N --gid=N] [--init] -- PROGRAM...)", a);
		}
	}
	errno = 0;
	if (i >= argc)
		die("no program to run");
	if ((uid < 0) != (gid < 0))
		die("--uid and --gid go together");
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
		return run_as_init(argv + i);
	return exec_program(argv + i);
}
