/* burrow-ns: the process side of --pid. The outer helper and the container's init (pid 1) both
 * block the forwarded signals, wait for them with sigwaitinfo and pass each to their one child,
 * reaping whatever exits, until that child is gone. The terminal's foreground process group is
 * handed to the program and back. */
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "burrow-ns.h"

/* The signals passed on to the program: the ones a caller (or a terminal) uses to talk to it. */
static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

static void wait_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(set, forwarded[i]);
	sigaddset(set, SIGCHLD);
}

/* Finds the terminal on stdin, stdout or stderr whose foreground process group is ours (we
 * were started in the foreground); tty->fd is -1 when there is none. */
void find_foreground_tty(struct tty_state *tty)
{
	tty->fd = -1;
	for (int fd = 0; fd <= 2; fd++) {
		if (isatty(fd) && tcgetpgrp(fd) == getpgrp()) {
			tty->fd = fd;
			return;
		}
	}
}

/* Blocks the forwarded signals and SIGCHLD (before fork: none is lost); *old gets the mask to
 * restore in the program. */
int block_forwarded_signals(sigset_t *old)
{
	sigset_t set;

	wait_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, old) < 0)
		return fail("sigprocmask");
	return 0;
}

/* Reaps every child that has exited (init adopts the program's orphans). Returns 1 once child
 * itself is reaped (its wait status in *status), 0 if it is still running. */
static int reap(pid_t child, int *status)
{
	for (;;) {
		int ws;
		pid_t p = waitpid(-1, &ws, WNOHANG);

		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			return fail("waitpid");
		if (p == 0)
			return 0;
		if (p == child) {
			*status = ws;
			return 1;
		}
	}
}

/* Forwards each signal to child and reaps, until child exits; *status is its wait status. */
int wait_and_forward(pid_t child, int *status)
{
	sigset_t set;

	wait_set(&set);
	for (;;) {
		siginfo_t si;
		int sig;
		int r = reap(child, status);

		if (r != 0)
			return r < 0 ? -1 : 0;
		if (replay_here()) {
			/* A replayed run keeps its hold fresh meanwhile (replay.c). */
			struct timespec beat = {.tv_sec = 60};

			sig = sigtimedwait(&set, &si, &beat);
			if (sig < 0 && errno == EAGAIN) {
				replay_heartbeat();
				continue;
			}
		} else {
			sig = sigwaitinfo(&set, &si);
		}
		if (sig < 0 && errno == EINTR)
			continue;
		if (sig < 0)
			return fail("sigwaitinfo");
		/* The child may be gone already (ESRCH): the next reap notices. */
		if (sig != SIGCHLD)
			kill(child, sig);
	}
}

/* Whether a process that joined this container (burrow-ns --join) still runs in our pid namespace:
 * one whose parent is outside it (its ppid reads 0 here). Our own children (the program, a FUSE
 * server) have a parent inside. Read from this namespace's /proc, which init has mounted. */
static bool joined_process_left(void)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;
	bool found = false;

	if (proc == NULL)
		return false;
	while (!found && (e = readdir(proc)) != NULL) {
		char path[64], buf[512];
		const char *close_paren;
		FILE *f;
		int ppid;

		if (e->d_name[0] < '1' || e->d_name[0] > '9' || strcmp(e->d_name, "1") == 0)
			continue;
		snprintf(path, sizeof path, "/proc/%.20s/stat", e->d_name);
		f = fopen(path, "re");
		if (f == NULL)
			continue;
		/* "PID (COMM) STATE PPID ...": COMM may hold anything, ")" included; the last ")" ends it. */
		if (fgets(buf, sizeof buf, f) != NULL && (close_paren = strrchr(buf, ')')) != NULL &&
		    sscanf(close_paren + 1, " %*c %d", &ppid) == 1 && ppid == 0)
			found = true;
		fclose(f);
	}
	closedir(proc);
	return found;
}

/* --host-pid: the next pid this namespace hands out (the program's) is `outer`, the helper's own pid
 * on the host, unique there. The ranks of an MPI job in separate containers would otherwise all be
 * pid 2 or so, and Open MPI's shared memory tells its own segments from a peer's by the creator's pid:
 * a rank then took a peer's segment for its own and read it at the peer's address (a crash on the
 * first large message). Best effort: init has CAP_SYS_ADMIN over its pid namespace, and a kernel
 * without ns_last_pid keeps the usual numbers. */
void program_pid_like_host(pid_t outer)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%d", (int)outer - 1);
	int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, buf, (size_t)n) < 0) {
		/* Not ours to set: the program gets the next pid as usual. */
	}
	close(fd);
}

/* --linger: once the program is gone, init stays while processes that joined the container still
 * run (the ranks of a job step: its end would kill them), reaping orphans; a signal to forward
 * (the job cancelled) ends the wait at once. */
void linger_for_joined(void)
{
	sigset_t set;
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};

	wait_set(&set);
	while (joined_process_left()) {
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &tick);

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (sig > 0 && sig != SIGCHLD)
			return;
	}
}

/* In the program, before exec: become the terminal's foreground group, so that ^C and ^\ from
 * the terminal go to the program alone. SIGTTOU is blocked (as it is inherited: the caller
 * restores the mask), since a background group changing the foreground would be stopped. */
int become_foreground(const struct tty_state *tty)
{
	sigset_t ttou;

	if (tty->fd < 0)
		return 0;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	if (sigprocmask(SIG_BLOCK, &ttou, NULL) < 0)
		return fail("sigprocmask");
	if (tcsetpgrp(tty->fd, getpgrp()) < 0)
		return fail("make the program the terminal's foreground process group");
	return 0;
}

/* In the outer helper, after the container is gone: give the terminal back to our own group,
 * where the caller (a shell, or burrow) expects it. Best effort: the helper is exiting anyway. */
void restore_foreground(const struct tty_state *tty)
{
	sigset_t ttou;

	if (tty->fd < 0)
		return;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, NULL);
	tcsetpgrp(tty->fd, getpgrp());
}

/* The exit status a shell would report for a wait status: the code, or 128 + the signal. */
int exit_status_of(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return EXIT_HELPER;
}
