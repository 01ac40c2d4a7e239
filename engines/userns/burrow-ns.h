/* burrow-ns: the userns engine's helper. Shared types and the functions each file exports.
 *
 * Error convention (crun's): a function that fails records what it was doing with fail() and
 * returns -1 with errno kept; only main() prints (die()) and exits. */
#ifndef BURROW_NS_H
#define BURROW_NS_H

#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include "../common/printable.h"

/* The version of the command-line interface; bumped when the TypeScript side must change. */
#define BURROW_NS_VERSION   "0.1.0"
#define BURROW_NS_INTERFACE 6

/* Exit statuses reserved for the helper itself (the contained program owns all others). */
enum {
	EXIT_HELPER = 125,	/* the helper failed: bad argument, mount, namespace... */
	EXIT_CANNOT_EXEC = 126, /* the program exists but could not be executed */
	EXIT_NOT_FOUND = 127,	/* the program was not found */
};

/* One planned mount, applied in command-line order after the root is in place. */
enum op_kind {
	OP_BIND,  /* --bind SRC:DST[:flags] */
	OP_TMPFS, /* --tmpfs DST[:size=N][:mode=M][:noexec] */
	OP_PROC,  /* --proc */
	OP_DEV,	  /* --dev */
	OP_SYS,	  /* --sys */
};

enum {
	OPF_RO = 1 << 0,      /* remount the bind read-only (recursively where the kernel allows) */
	OPF_OPT = 1 << 1,     /* a missing source is skipped silently */
	OPF_MKDIR = 1 << 2,   /* create a missing destination (file or directory, like the source) */
	OPF_SKIP = 1 << 3,    /* set by validation: optional source missing, nothing to do */
	OPF_SRC_DIR = 1 << 4, /* set by validation: the source is a directory */
	OPF_NOEXEC = 1 << 5,  /* a tmpfs programs may not be run from */
};

struct op {
	enum op_kind kind;
	unsigned flags;
	const char *src;     /* host path (OP_BIND) */
	const char *dst;     /* absolute path inside the container */
	char tmpfs_data[96]; /* "mode=0755[,size=N]" (OP_TMPFS) */
	const char *arg;     /* the option's argument as given, for messages */
};

/* One --rlimit: setrlimit(resource, limit) just before the exec. */
#define MAX_RLIMITS 16
struct rlimit_req {
	int resource;
	struct rlimit limit;
	const char *arg; /* NAME:SOFT:HARD as given, for messages */
};

/* Everything the command line asked for, checked before any namespace is touched. */
struct config {
	const char *rootfs;
	const char *lower, *upper, *work; /* --overlay, or NULL */
	bool overlay_volatile;		  /* --overlay ...:volatile: a throwaway layer, never synced */
	bool readonly_root;
	uid_t uid;
	gid_t gid;
	const char *hostname; /* NULL: no UTS namespace */
	bool pid_ns;
	bool fake_root;
	bool map_all;	 /* --map-all: every id of our namespace mapped to itself, then --uid/--gid set */
	bool new_devpts; /* --dev gets a private devpts instance instead of the host's */
	const char *cwd;
	const char *remove_after;   /* --remove-after: the run's scratch folder, or NULL */
	pid_t join_pid;		    /* --join: a running container's process to enter, or 0 */
	const char *fuse_overlayfs; /* --fuse-overlayfs: mount --overlay with this binary, or NULL */
	const char *squashfs;	    /* --squashfs: a SquashFS file mounted at LOWER, or NULL */
	const char *squashfuse;	    /* --squashfuse: the SquashFUSE binary that mounts it */
	const char *squashfs_share; /* --squashfs-share: where the runs of a node share its mount */
	bool linger;		    /* --linger: init waits for joined processes after the program */
	bool host_pid;		    /* --host-pid: the program's pid in its namespace is the helper's */
	pid_t outer_pid;	    /* the helper's own pid, outside the pid namespace */
	struct op *ops;
	size_t n_ops;
	char *const *argv; /* PROGRAM [ARG...] */
	/* net.c, limits.c */
	bool net_ns;		       /* --netns: a network namespace of its own, lo up */
	bool net_sync;		       /* --net-sync READY:WAIT was given */
	int net_ready_fd, net_wait_fd; /* its descriptors */
	bool cpuset;		       /* --cpuset was given: cpus holds it */
	cpu_set_t cpus;
	const char *cpuset_arg;
	struct rlimit_req rlimits[MAX_RLIMITS]; /* --rlimit, in order */
	size_t n_rlimits;
	const char *cgroup; /* --cgroup DIR, or NULL */
};

/* util.c */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int fail_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *fail_message(void);
int write_file(const char *path, const char *data);
int write_id_maps(uid_t inside_uid, gid_t inside_gid, uid_t outside_uid, gid_t outside_gid);

/* args.c */
enum parse_result { PARSE_RUN, PARSE_HELP, PARSE_VERSION };
int parse_args(int argc, char **argv, struct config *cfg, enum parse_result *what);
int validate_config(struct config *cfg);
void print_usage(void);
bool is_clean_absolute(const char *p);

/* mounts.c */
int setup_root(const struct config *cfg);
int apply_ops(const struct config *cfg);
int finish_root(const struct config *cfg);
int enter_root(const struct config *cfg);
int open_in_root(int root_fd, const char *root, const char *path, int create, bool dir, char *shown,
		 size_t shownlen);

/* seccomp.c */
int install_fake_root_filter(void);

/* fuse.c */
int mount_fuse_overlay(const struct config *cfg, const char *options);
int mount_squashfs(const struct config *cfg);
int mount_squashfs_at(const char *squashfuse, const char *file, const char *where, bool allow_other);

/* share.c */
int share_acquire(const struct config *cfg);
void share_remember_args(int argc, char **argv);
bool share_active(void);
int share_enter_userns(void);
int share_attach(const char *where);
int squashfs_enter(int argc, char **argv);

/* cleanup.c */
struct scratch {
	int fd;		  /* the scratch folder, or -1 */
	int parent_fd;	  /* the folder holding it (O_PATH) */
	const char *name; /* its name there */
};
int open_scratch(const struct config *cfg, struct scratch *s);
void remove_scratch(struct scratch *s);

/* net.c */
int parse_net_sync(struct config *cfg, const char *arg);
int validate_net(const struct config *cfg);
int loopback_up(void);
int net_sync(const struct config *cfg);

/* limits.c */
int parse_rlimit(struct config *cfg, const char *arg);
int parse_cpuset(struct config *cfg, const char *arg);
int validate_limits(const struct config *cfg);
int join_cgroup(const struct config *cfg);
int apply_limits(const struct config *cfg);

/* init.c */
struct tty_state {
	int fd; /* a terminal on stdio whose foreground group we are in, or -1 */
};
void find_foreground_tty(struct tty_state *tty);
int block_forwarded_signals(sigset_t *old);
int wait_and_forward(pid_t child, int *status);
int become_foreground(const struct tty_state *tty);
void restore_foreground(const struct tty_state *tty);
int exit_status_of(int wstatus);
void linger_for_joined(void);
void program_pid_like_host(pid_t outer);

/* xattrs.c */
int set_xattrs(const char *root);

/* main.c, replay.c */
int helper_main(int argc, char **argv, bool replayed);
int replay_main(int argc, char **argv);
bool replay_here(void);
void replay_heartbeat(void);
void replay_finish(int status);
void replay_failed(void);

/* join.c */
int validate_join(const struct config *cfg);
int join_container(const struct config *cfg, struct tty_state *tty, sigset_t *caller_mask, int *wstatus);

#endif
