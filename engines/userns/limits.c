/* burrow-ns: the limits the program starts with: CPU affinity (--cpuset), resource limits
 * (--rlimit) and a cgroup to run in (--cgroup, one the caller created and wrote the limits of). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "burrow-ns.h"

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{"as", RLIMIT_AS},	     {"core", RLIMIT_CORE},	    {"cpu", RLIMIT_CPU},
	{"data", RLIMIT_DATA},	     {"fsize", RLIMIT_FSIZE},	    {"locks", RLIMIT_LOCKS},
	{"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
	{"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},	    {"rss", RLIMIT_RSS},
	{"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},	    {"sigpending", RLIMIT_SIGPENDING},
	{"stack", RLIMIT_STACK},
};

/* A limit value: decimal, or "unlimited". */
static int parse_rlim(const char *s, rlim_t *out)
{
	char *end;
	unsigned long long v;

	if (strcmp(s, "unlimited") == 0) {
		*out = RLIM_INFINITY;
		return 0;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || (rlim_t)v == RLIM_INFINITY)
		return -1;
	*out = (rlim_t)v;
	return 0;
}

/* Parses --rlimit NAME:SOFT:HARD into the config's list (a later one for the same NAME wins). */
int parse_rlimit(struct config *cfg, const char *arg)
{
	char name[16];
	const char *c1 = strchr(arg, ':');
	const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	char soft[32], hard[32];
	struct rlimit_req *r;
	size_t k;

	if (c1 == NULL || c2 == NULL || (size_t)(c1 - arg) >= sizeof name ||
	    (size_t)(c2 - c1 - 1) >= sizeof soft || strlen(c2 + 1) >= sizeof hard)
		return fail_errno(0, "--rlimit '%s': expected NAME:SOFT:HARD", arg);
	memcpy(name, arg, (size_t)(c1 - arg));
	name[c1 - arg] = '\0';
	memcpy(soft, c1 + 1, (size_t)(c2 - c1 - 1));
	soft[c2 - c1 - 1] = '\0';
	strcpy(hard, c2 + 1);
	for (k = 0; k < sizeof rlimit_names / sizeof rlimit_names[0]; k++)
		if (strcmp(name, rlimit_names[k].name) == 0)
			break;
	if (k == sizeof rlimit_names / sizeof rlimit_names[0])
		return fail_errno(0, "--rlimit '%s': unknown limit '%s'", arg, name);
	if (cfg->n_rlimits == MAX_RLIMITS)
		return fail_errno(0, "--rlimit '%s': too many limits", arg);
	r = &cfg->rlimits[cfg->n_rlimits++];
	r->resource = rlimit_names[k].resource;
	r->arg = arg;
	if (parse_rlim(soft, &r->limit.rlim_cur) < 0 || parse_rlim(hard, &r->limit.rlim_max) < 0)
		return fail_errno(0, "--rlimit '%s': limits are numbers or 'unlimited'", arg);
	if (r->limit.rlim_cur > r->limit.rlim_max)
		return fail_errno(0, "--rlimit '%s': the soft limit is above the hard one", arg);
	return 0;
}

/* Parses --cpuset LIST (0-3,5,7-8) into a CPU set. */
int parse_cpuset(struct config *cfg, const char *arg)
{
	const char *c = arg;

	if (cfg->cpuset)
		return fail_errno(0, "--cpuset given twice");
	CPU_ZERO(&cfg->cpus);
	for (;;) {
		char *end;
		unsigned long lo, hi;

		if (*c < '0' || *c > '9')
			return fail_errno(0, "--cpuset '%s': expected a list such as 0-2,5", arg);
		lo = hi = strtoul(c, &end, 10);
		c = end;
		if (*c == '-') {
			if (c[1] < '0' || c[1] > '9')
				return fail_errno(0, "--cpuset '%s': expected a list such as 0-2,5", arg);
			hi = strtoul(c + 1, &end, 10);
			c = end;
		}
		if (lo > hi || hi >= CPU_SETSIZE)
			return fail_errno(0, "--cpuset '%s': bad range (CPUs 0 to %d)", arg, CPU_SETSIZE - 1);
		for (unsigned long i = lo; i <= hi; i++)
			CPU_SET(i, &cfg->cpus);
		if (*c == '\0')
			break;
		if (*c++ != ',')
			return fail_errno(0, "--cpuset '%s': expected a list such as 0-2,5", arg);
	}
	cfg->cpuset = true;
	cfg->cpuset_arg = arg;
	return 0;
}

/* Checks --cgroup: an absolute folder holding a cgroup.procs file we may write. */
int validate_limits(const struct config *cfg)
{
	char procs[PATH_MAX];

	if (cfg->cgroup == NULL)
		return 0;
	if (cfg->cgroup[0] != '/' ||
	    snprintf(procs, sizeof procs, "%s/cgroup.procs", cfg->cgroup) >= (int)sizeof procs)
		return fail_errno(0, "--cgroup '%s': must be an absolute path", cfg->cgroup);
	if (access(procs, W_OK) < 0)
		return fail("--cgroup %s", procs);
	return 0;
}

/* Moves this process (and so everything it starts) into the --cgroup, before any namespace: the
 * pid written must be the one the cgroup's namespace sees. */
int join_cgroup(const struct config *cfg)
{
	char path[PATH_MAX], pid[24];

	if (cfg->cgroup == NULL)
		return 0;
	snprintf(path, sizeof path, "%s/cgroup.procs", cfg->cgroup);
	snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	return write_file(path, pid);
}

/* Applies --cpuset and --rlimit to the calling process, just before the exec of the program. */
int apply_limits(const struct config *cfg)
{
	if (cfg->cpuset && sched_setaffinity(0, sizeof cfg->cpus, &cfg->cpus) < 0)
		return fail("--cpuset %s (none of these CPUs may be used here?)", cfg->cpuset_arg);
	for (size_t i = 0; i < cfg->n_rlimits; i++) {
		const struct rlimit_req *r = &cfg->rlimits[i];

		if (setrlimit(r->resource, &r->limit) < 0) {
			if (errno == EPERM)
				return fail(
					"--rlimit %s (a hard limit can only be lowered without privilege)",
					r->arg);
			return fail("--rlimit %s", r->arg);
		}
	}
	return 0;
}
