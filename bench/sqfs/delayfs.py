#!/usr/bin/python3
"""A FUSE passthrough file system that stands in for a shared parallel file system's metadata server.

Usage: delayfs.py BACKING MOUNTPOINT CONTROL_DIR

Every operation on MOUNTPOINT is passed through to the folder BACKING. Each *metadata* operation
(getattr, readdir, opendir, readlink, open, create, access, mkdir, mknod, rmdir, unlink, rename, link,
symlink, chmod, chown, utimens, truncate, statfs) first sleeps the configured delay, the round trip to a
metadata server, and is counted; reads and writes of file data are neither delayed nor counted. The
kernel caches no attributes, lookups or failed lookups (attr_timeout, entry_timeout and negative_timeout
are 0), so every lookup a program makes reaches this process, as it reaches the metadata server of a
parallel file system that does not cache for it. Extended attributes are not supported (the kernel is
told so once and asks no more). Requests are served by several threads at once (libfuse's default), so
the processes of concurrent ranks are served concurrently.

Control, through files in CONTROL_DIR (polled every 50 ms by a background thread):
  delay_ms  the delay in milliseconds (a number; read again every 0.2 s; missing: 0)
  dump      when it appears: the counts are written, `ops.json` (metadata operations, per operation,
            JSON) and `data.json` (reads and writes of data: calls and bytes) first, then `count` (the
            metadata operations in all, one integer), each replaced whole; then `dump` is deleted
  reset     when it appears: the counts go back to 0; then `reset` is deleted
A file `ready` is written once the file system is mounted and served. Stop it with `fusermount3 -u
MOUNTPOINT` (or SIGINT/SIGTERM).

Needs Debian's python3-fusepy (module `fusepy`; pip's fusepy is module `fuse`), libfuse2 and a setuid
fusermount (fuse3's serves libfuse2 too); /dev/fuse open to the user who mounts it.
"""

import errno
import json
import os
import sys
import threading
import time

try:
    from fusepy import FUSE, FuseOSError, Operations  # Debian's python3-fusepy
except ImportError:  # pragma: no cover - pip's fusepy
    from fuse import FUSE, FuseOSError, Operations

POLL_S = 0.05
DELAY_REREAD_S = 0.2


class DelayFS(Operations):
    """Passthrough to `backing`, each metadata operation delayed and counted."""

    use_ns = True  # times in integer nanoseconds, as os.stat gives them

    # Not implemented: libfuse answers ENOSYS, which the kernel remembers (no further xattr requests;
    # callers get EOPNOTSUPP). POSIX and BSD locks are then kept by the kernel, on this node.
    getxattr = None
    listxattr = None
    setxattr = None
    removexattr = None
    lock = None

    def __init__(self, backing, control):
        self.backing = os.path.realpath(backing)
        self.control = control
        self.delay = 0.0
        self.counts = {}
        self.data = self._no_data()
        self.mutex = threading.Lock()
        self.stopping = threading.Event()

    # ------------------------------------------------------------ paths, delay and counts
    def _full(self, path):
        """The backing path of `path` (absolute, from fusepy): always inside the backing folder."""
        rel = os.path.normpath(path.lstrip("/"))
        if rel == ".":
            return self.backing
        if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
            raise FuseOSError(errno.EACCES)
        return os.path.join(self.backing, rel)

    @staticmethod
    def _no_data():
        return {"read_calls": 0, "read_bytes": 0, "write_calls": 0, "write_bytes": 0}

    def _data(self, op, n):
        with self.mutex:
            self.data[op + "_calls"] += 1
            self.data[op + "_bytes"] += n

    def _meta(self, op):
        """One metadata operation: counted, then delayed."""
        with self.mutex:
            self.counts[op] = self.counts.get(op, 0) + 1
        delay = self.delay
        if delay > 0:
            time.sleep(delay)

    # ------------------------------------------------------------ control
    def _read_delay(self):
        try:
            with open(os.path.join(self.control, "delay_ms"), encoding="ascii") as f:
                text = f.read().strip()
            ms = float(text) if text else 0.0
        except FileNotFoundError:
            ms = 0.0
        except (OSError, ValueError) as e:
            print(f"delayfs: delay_ms: {e}; keeping {self.delay * 1000:g} ms", file=sys.stderr)
            return
        self.delay = max(ms, 0.0) / 1000.0

    def _write_whole(self, name, text):
        tmp = os.path.join(self.control, f".{name}.tmp")
        with open(tmp, "w", encoding="ascii") as f:
            f.write(text)
        os.replace(tmp, os.path.join(self.control, name))

    def _dump(self):
        with self.mutex:
            counts = dict(self.counts)
            data = dict(self.data)
        self._write_whole("ops.json", json.dumps(counts, sort_keys=True) + "\n")
        self._write_whole("data.json", json.dumps(data, sort_keys=True) + "\n")
        self._write_whole("count", f"{sum(counts.values())}\n")

    def _take(self, name):
        """Whether the control file `name` was there (it is deleted)."""
        try:
            os.unlink(os.path.join(self.control, name))
            return True
        except FileNotFoundError:
            return False

    def _control_loop(self):
        last_delay = 0.0
        while not self.stopping.wait(POLL_S):
            try:
                now = time.monotonic()
                if now - last_delay >= DELAY_REREAD_S:
                    self._read_delay()
                    last_delay = now
                if os.path.exists(os.path.join(self.control, "dump")):
                    self._dump()
                    self._take("dump")
                if self._take("reset"):
                    with self.mutex:
                        self.counts = {}
                        self.data = self._no_data()
            except OSError as e:  # the control folder is the caller's: keep serving
                print(f"delayfs: control: {e}", file=sys.stderr)

    def init(self, path):
        self._read_delay()
        threading.Thread(target=self._control_loop, name="control", daemon=True).start()
        self._write_whole("ready", f"{os.getpid()}\n")

    def destroy(self, path):
        self.stopping.set()

    # ------------------------------------------------------------ metadata operations
    def getattr(self, path, fh=None):
        self._meta("getattr")
        # fh: the open file's fuse_file_info, or None or a NULL pointer (both false) for a path.
        st = os.fstat(fh.fh) if fh else os.lstat(self._full(path))
        return {
            "st_mode": st.st_mode,
            "st_ino": st.st_ino,
            "st_dev": st.st_dev,
            "st_nlink": st.st_nlink,
            "st_uid": st.st_uid,
            "st_gid": st.st_gid,
            "st_size": st.st_size,
            "st_rdev": st.st_rdev,
            "st_blksize": st.st_blksize,
            "st_blocks": st.st_blocks,
            "st_atime": st.st_atime_ns,
            "st_mtime": st.st_mtime_ns,
            "st_ctime": st.st_ctime_ns,
        }

    def access(self, path, amode):
        self._meta("access")
        if not os.access(self._full(path), amode, follow_symlinks=False):
            raise FuseOSError(errno.EACCES)

    def opendir(self, path):
        self._meta("opendir")
        if not os.path.isdir(self._full(path)):
            raise FuseOSError(errno.ENOTDIR)
        return 0

    def readdir(self, path, fh):
        self._meta("readdir")
        return [".", ".."] + os.listdir(self._full(path))

    def releasedir(self, path, fh):
        return 0

    def readlink(self, path):
        self._meta("readlink")
        return os.readlink(self._full(path))

    def statfs(self, path):
        self._meta("statfs")
        sv = os.statvfs(self._full(path))
        keys = ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree", "f_favail",
                "f_flag", "f_namemax")
        return {k: getattr(sv, k) for k in keys}

    def open(self, path, fi):
        self._meta("open")
        fi.fh = os.open(self._full(path), fi.flags)
        return 0

    def create(self, path, mode, fi):
        self._meta("create")
        fi.fh = os.open(self._full(path), fi.flags | os.O_CREAT, mode)
        return 0

    def mkdir(self, path, mode):
        self._meta("mkdir")
        os.mkdir(self._full(path), mode)

    def mknod(self, path, mode, dev):
        self._meta("mknod")
        os.mknod(self._full(path), mode, dev)

    def rmdir(self, path):
        self._meta("rmdir")
        os.rmdir(self._full(path))

    def unlink(self, path):
        self._meta("unlink")
        os.unlink(self._full(path))

    def rename(self, old, new):
        self._meta("rename")
        os.rename(self._full(old), self._full(new))

    def link(self, target, source):
        # fusepy's names: `target` is the new name, `source` the existing file.
        self._meta("link")
        os.link(self._full(source), self._full(target), follow_symlinks=False)

    def symlink(self, target, source):
        # `target` is the link made, `source` its text (as given: not a path of ours).
        self._meta("symlink")
        os.symlink(source, self._full(target))

    def chmod(self, path, mode):
        self._meta("chmod")
        os.chmod(self._full(path), mode & 0o7777)

    def chown(self, path, uid, gid):
        self._meta("chown")
        os.chown(self._full(path), uid, gid, follow_symlinks=False)

    def utimens(self, path, times=None):
        self._meta("utimens")
        if times is None:
            os.utime(self._full(path), follow_symlinks=False)
        else:
            os.utime(self._full(path), ns=times, follow_symlinks=False)

    def truncate(self, path, length, fh=None):
        self._meta("truncate")
        if fh:
            os.ftruncate(fh.fh, length)
        else:
            os.truncate(self._full(path), length)

    # ------------------------------------------------------------ data: not delayed, not counted
    def read(self, path, size, offset, fh):
        data = os.pread(fh.fh, size, offset)
        self._data("read", len(data))
        return data

    def write(self, path, data, offset, fh):
        n = os.pwrite(fh.fh, data, offset)
        self._data("write", n)
        return n

    def flush(self, path, fh):
        return 0

    def fsync(self, path, datasync, fh):
        if datasync:
            os.fdatasync(fh.fh)
        else:
            os.fsync(fh.fh)

    def release(self, path, fh):
        os.close(fh.fh)


def main(argv):
    if len(argv) != 4:
        print(__doc__.split("\n\n", 2)[1], file=sys.stderr)
        return 2
    backing, mountpoint, control = argv[1:]
    for d in (backing, mountpoint, control):
        if not os.path.isdir(d):
            print(f"delayfs: {d}: not a folder", file=sys.stderr)
            return 2
    FUSE(
        DelayFS(backing, control),
        mountpoint,
        raw_fi=True,  # open/create see the caller's flags and set the handle themselves
        foreground=True,
        nothreads=False,
        fsname="delayfs",
        attr_timeout=0,
        entry_timeout=0,
        negative_timeout=0,
        use_ino=True,  # the backing inode numbers (hard links keep theirs)
        big_writes=True,  # writes of up to 128 KiB, not 4 KiB (data is not what is measured)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
