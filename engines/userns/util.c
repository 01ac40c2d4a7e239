/* burrow-ns: error recording (fail) and small file helpers shared by the other files. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "burrow-ns.h"

/* What the last failing step was doing; main() prints it with the saved errno. */
static char failed_step[1024] = "unknown failure";

static void record(const char *fmt, va_list ap)
{
	vsnprintf(failed_step, sizeof failed_step, fmt, ap);
}

/* Records what failed and returns -1 with errno unchanged. */
int fail(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	record(fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

/* Records what failed and returns -1 with errno set to err (0: a usage error, no strerror). */
int fail_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

/* The message of the last fail() or fail_errno(). */
const char *fail_message(void)
{
	return failed_step;
}

/* Writes data to an existing file (a /proc knob) in full; -1 with errno on failure. */
int write_file(const char *path, const char *data)
{
	size_t len = strlen(data);
	size_t done = 0;
	int fd;

	do
		fd = open(path, O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return fail("open %s", path);
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			return fail("write %s", path);
		}
		done += (size_t)n;
	}
	if (close(fd) < 0 && errno != EINTR)
		return fail("close %s", path);
	return 0;
}
