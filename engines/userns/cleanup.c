/* burrow-ns: --remove-after. The run's scratch folder (its throwaway overlay layer and generated
 * files) is removed by the outer helper once the container is gone, before it reports the exit
 * status: in C this takes a fraction of a millisecond, where the caller's walk took several. Both
 * folders are opened before the fork, while the host's root is still ours (the container's
 * pivot_root moves it away); everything is then reached through those descriptors, never by path.
 * The walk stays on the scratch folder's file system and never follows a symbolic link. Best
 * effort: what is left (a deeper tree, an error) is the caller's to remove, which it checks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "burrow-ns.h"

/* Deeper trees are left to the caller: the walk recurses, one descriptor per level. */
#define MAX_DEPTH 64

/* Opens directory name in dirfd without following a link; a folder the kernel's overlay left
 * mode 000 (work/work) is made 0700 first (it is ours: we own it outside, root maps to us). */
static int open_dir_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0)
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

/* Removes everything in the directory open as fd (which it closes), on device dev only. */
static int empty_dir(int fd, dev_t dev, int depth)
{
	DIR *dir;
	struct dirent *e;
	int ret = 0;

	if (depth > MAX_DEPTH) {
		close(fd);
		return fail_errno(ELOOP, "remove a scratch tree deeper than %d", MAX_DEPTH);
	}
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return fail("read a scratch folder");
	}
	while ((errno = 0, e = readdir(dir)) != NULL) {
		struct stat st;
		int sub;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = -1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (unlinkat(fd, e->d_name, 0) < 0)
				ret = -1;
			continue;
		}
		/* Another file system mounted here is not ours to empty. */
		if (st.st_dev != dev) {
			ret = -1;
			continue;
		}
		sub = open_dir_at(fd, e->d_name);
		if (sub < 0 || empty_dir(sub, dev, depth + 1) < 0 ||
		    unlinkat(fd, e->d_name, AT_REMOVEDIR) < 0)
			ret = -1;
	}
	if (errno != 0)
		ret = -1;
	closedir(dir);
	return ret;
}

/* Opens cfg->remove_after and its parent (call before the fork); -1 leaves both unset. */
int open_scratch(const struct config *cfg, struct scratch *s)
{
	const char *slash = strrchr(cfg->remove_after, '/');
	char parent[4096];
	size_t len;

	s->fd = s->parent_fd = -1;
	s->name = slash + 1;
	len = slash == cfg->remove_after ? 1 : (size_t)(slash - cfg->remove_after);
	if (len >= sizeof parent)
		return fail_errno(ENAMETOOLONG, "--remove-after %s", cfg->remove_after);
	memcpy(parent, cfg->remove_after, len);
	parent[len] = '\0';
	s->parent_fd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->parent_fd < 0)
		return fail("--remove-after: open %s", parent);
	s->fd = openat(s->parent_fd, s->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->fd < 0) {
		int err = errno;

		close(s->parent_fd);
		s->parent_fd = -1;
		return fail_errno(err, "--remove-after: open %s", cfg->remove_after);
	}
	return 0;
}

/* Removes the scratch folder opened by open_scratch, best effort (the caller checks). */
void remove_scratch(struct scratch *s)
{
	struct stat st;

	if (s->fd < 0)
		return;
	if (fstat(s->fd, &st) < 0)
		close(s->fd);
	else if (empty_dir(s->fd, st.st_dev, 0) == 0)
		unlinkat(s->parent_fd, s->name, AT_REMOVEDIR);
	s->fd = -1;
	close(s->parent_fd);
	s->parent_fd = -1;
}
