/* burrow-ns: the container's own network namespace (--netns): loopback brought up without the ip
 * binary, and the handshake (--net-sync) that lets the caller attach a user-mode network stack
 * (slirp4netns) to the namespace before the program starts. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "burrow-ns.h"

/* Parses --net-sync READY:WAIT: two descriptors the caller left open for us. */
int parse_net_sync(struct config *cfg, const char *arg)
{
	char *end;
	long ready, wait_fd;

	if (cfg->net_sync)
		return fail_errno(0, "--net-sync given twice");
	errno = 0;
	ready = strtol(arg, &end, 10);
	if (end == arg || *end != ':' || errno != 0 || ready < 0 || ready > 65535)
		return fail_errno(0, "--net-sync '%s': expected READYFD:WAITFD", arg);
	arg = end + 1;
	wait_fd = strtol(arg, &end, 10);
	if (end == arg || *end != '\0' || errno != 0 || wait_fd < 0 || wait_fd > 65535)
		return fail_errno(0, "--net-sync '%s': expected READYFD:WAITFD", arg);
	cfg->net_sync = true;
	cfg->net_ready_fd = (int)ready;
	cfg->net_wait_fd = (int)wait_fd;
	return 0;
}

/* Checks that --net-sync comes with --netns and names open descriptors, marked close-on-exec so
 * that the program never inherits them. */
int validate_net(const struct config *cfg)
{
	if (!cfg->net_sync)
		return 0;
	if (!cfg->net_ns)
		return fail_errno(0, "--net-sync needs --netns");
	if (fcntl(cfg->net_ready_fd, F_SETFD, FD_CLOEXEC) < 0)
		return fail("--net-sync: descriptor %d", cfg->net_ready_fd);
	if (fcntl(cfg->net_wait_fd, F_SETFD, FD_CLOEXEC) < 0)
		return fail("--net-sync: descriptor %d", cfg->net_wait_fd);
	return 0;
}

/* Brings up lo in the new network namespace (a new one starts with lo down): the SIOCSIFFLAGS
 * ioctl on any socket of the namespace, as ip(8) would do through netlink. */
int loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (fd < 0)
		return fail("--netns: socket");
	memset(&ifr, 0, sizeof ifr);
	strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		ret = fail("--netns: read the flags of lo");
	else {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			ret = fail("--netns: bring lo up");
	}
	close(fd);
	return ret;
}

/* The handshake: one byte on READY says the namespace exists (the caller then attaches its network
 * stack to our pid); we wait for one byte on WAIT, the stack being up. End of file on WAIT means
 * the caller gave up: the program must not start without the network it was promised. */
int net_sync(const struct config *cfg)
{
	char byte = '1';
	ssize_t n;

	if (!cfg->net_sync)
		return 0;
	do
		n = write(cfg->net_ready_fd, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		return fail("--net-sync: tell the caller the namespace is ready");
	close(cfg->net_ready_fd);
	do
		n = read(cfg->net_wait_fd, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail("--net-sync: wait for the network");
	if (n == 0)
		return fail_errno(0, "--net-sync: the caller stopped before the network was ready");
	close(cfg->net_wait_fd);
	return 0;
}
