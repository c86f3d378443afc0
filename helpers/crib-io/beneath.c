/*
 * crib-io beneath ROOT OP [OP...]
 *
 * Paths inside a directory a container can write (a volume), resolved by the kernel so that
 * nothing leads out of ROOT: openat2 with RESOLVE_BENEATH refuses a ".." above ROOT and an
 * absolute symlink, and checks a relative one as it follows it, even while the container renames
 * things meanwhile (kubelet's CVE-2017-1002101 was a subPath joined as a string). Symlinks that
 * stay inside ROOT are followed, as kubelet follows them in a subPath. Magic links (/proc) never.
 *
 *   mkdir REL             REL's missing directories made, each with ROOT's mode (kubelet's
 *                         SafeMakeDir), each made by mkdirat in its parent as opened beneath ROOT
 *   bind REL TARGET       REL (made as mkdir if missing) opened (O_PATH) and bound onto TARGET through
 *                         /proc/self/fd/N: the mount is of what was opened, never of a name looked
 *                         up again. TARGET (in a directory no container can write) is made a
 *                         directory or an empty file to match; what was mounted on it is
 *                         unmounted first
 *   write REL MODE SIZE   SIZE bytes from stdin into the file REL, made anew with MODE (octal):
 *                         its directories as mkdir, a file or symlink already there removed, the
 *                         file created O_EXCL|O_NOFOLLOW in its directory as opened beneath ROOT
 *   read REL MAX          the regular file REL as a process with ROOT as its / sees it (a rootfs:
 *                         RESOLVE_IN_ROOT, so an absolute symlink stays inside too) to stdout as
 *                         "SIZE\n" and its bytes, or "-\n" if it is missing; one that is not a
 *                         regular file (a fifo, a device) or is larger than MAX bytes fails
 *
 * The operations run in order and the first failure stops them: one line on stderr, exit status 1
 * (2: bad usage). ROOT itself is the caller's (a volume's directory), opened by its name.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crib-io.h"

/* <linux/openat2.h>, which musl's headers do not carry. */
struct open_how_v0 {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_BENEATH 0x08
#define RESOLVE_IN_ROOT 0x10

/* openat2 answers EAGAIN when a rename raced a ".." it checked: the caller may simply retry. */
#define RACE_RETRIES 128
/* Stacked mounts unmounted from a TARGET before the new one (one is the usual case). */
#define MAX_UNMOUNTS 64

static int root_fd = -1;
static mode_t root_mode;
static const char *root_path = "";

static int fail(const char *op, const char *rel, int err)
{
	const char *why = err == EXDEV	  ? "leads out of the volume (a symlink or \"..\" the container may have planted)"
			  : err == ELOOP  ? "has a symlink loop or a magic link"
			  : err == ENOTDIR ? "has a component that is not a directory"
					   : strerror(err);

	say("error: ", op, " ", rel, " beneath ", root_path, ": ", why, NULL);
	return -1;
}

static int open_resolved(const char *rel, int flags, uint64_t resolve)
{
	struct open_how_v0 how = { .flags = (uint64_t)(flags | O_CLOEXEC), .resolve = resolve | RESOLVE_NO_MAGICLINKS };

	for (int tries = 0;; tries++) {
		long fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));

		if (fd >= 0 || errno != EAGAIN || tries >= RACE_RETRIES)
			return (int)fd;
	}
}

static int open_beneath(const char *rel, int flags)
{
	return open_resolved(rel, flags, RESOLVE_BENEATH);
}

/*
 * The first `len` bytes of rel as directories beneath ROOT, the missing ones made. 0, or -1 with
 * errno. Each is opened again after its mkdirat, so what the next one is made in is whatever is
 * there now, checked again.
 */
static int make_dirs(const char *rel, size_t len)
{
	char prefix[PATH_MAX];
	size_t i = 0;

	if (len >= sizeof(prefix)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	while (i < len) {
		size_t start;
		int fd, parent, r;

		while (i < len && rel[i] == '/')
			i++;
		start = i;
		while (i < len && rel[i] != '/')
			i++;
		if (i == start)
			break;
		memcpy(prefix, rel, i);
		prefix[i] = '\0';
		fd = open_beneath(prefix, O_PATH | O_DIRECTORY);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (errno != ENOENT)
			return -1;
		prefix[start] = '\0';
		parent = start ? open_beneath(prefix, O_PATH | O_DIRECTORY) : root_fd;
		if (parent < 0)
			return -1;
		memcpy(prefix, rel + start, i - start);
		prefix[i - start] = '\0';
		r = mkdirat(parent, prefix, root_mode);
		if (parent != root_fd)
			close(parent);
		if (r < 0 && errno != EEXIST)
			return -1;
		memcpy(prefix, rel, i);
		prefix[i] = '\0';
		fd = open_beneath(prefix, O_PATH | O_DIRECTORY);
		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

/* TARGET made a directory or an empty file as `dir` says, with nothing mounted on it. */
static int make_target(const char *target, int dir)
{
	struct stat st;
	int fd;

	for (int n = 0; n < MAX_UNMOUNTS && umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0; n++)
		;
	if (lstat(target, &st) == 0 && ((!!S_ISDIR(st.st_mode)) != dir || S_ISLNK(st.st_mode))) {
		if ((S_ISDIR(st.st_mode) ? rmdir(target) : unlink(target)) < 0)
			return -1;
	}
	if (dir)
		return mkdir(target, 0700) < 0 && errno != EEXIST ? -1 : 0;
	fd = open(target, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int op_bind(const char *rel, const char *target)
{
	char src[32] = "/proc/self/fd/";
	struct stat st;
	int fd, rc = -1;

	fd = open_beneath(rel, O_PATH);
	if (fd < 0 && errno == ENOENT) {
		if (make_dirs(rel, strlen(rel)) < 0)
			return fail("bind", rel, errno);
		fd = open_beneath(rel, O_PATH);
	}
	if (fd < 0)
		return fail("bind", rel, errno);
	fmt_ulong((unsigned long)fd, src + strlen(src), sizeof(src) - strlen(src));
	if (fstat(fd, &st) < 0 || make_target(target, !!S_ISDIR(st.st_mode)) < 0)
		(void)fail("bind onto", target, errno);
	else if (mount(src, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		(void)fail("bind", rel, errno);
	else
		rc = 0;
	close(fd);
	return rc;
}

static int parse_octal(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '7' || v > max / 8)
			return -1;
		v = v * 8 + (unsigned long)(*s - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* Copies exactly n bytes of stdin to fd. 0, or -1 with errno (EPIPE: stdin ended early). */
static int copy_stdin(int fd, unsigned long n)
{
	char buf[16384];

	while (n > 0) {
		ssize_t r = read(STDIN_FILENO, buf, n < sizeof(buf) ? n : sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EPIPE;
			return -1;
		}
		if (write_all(fd, buf, (size_t)r) < 0)
			return -1;
		n -= (unsigned long)r;
	}
	return 0;
}

static int op_write(const char *rel, const char *mode_s, const char *size_s)
{
	const char *slash = strrchr(rel, '/');
	const char *name = slash ? slash + 1 : rel;
	size_t dir_len = slash ? (size_t)(slash - rel) : 0;
	char dir[PATH_MAX];
	unsigned long mode, size;
	int parent, fd, rc = -1;

	if (parse_octal(mode_s, 07777, &mode) < 0 || parse_ulong(size_s, 0, (unsigned long)SSIZE_MAX, &size) < 0 || !*name ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || dir_len >= sizeof(dir)) {
		say("error: write ", rel, ": bad operands", NULL);
		return -1;
	}
	if (make_dirs(rel, dir_len) < 0)
		return fail("write", rel, errno);
	memcpy(dir, rel, dir_len);
	dir[dir_len] = '\0';
	parent = dir_len ? open_beneath(dir, O_PATH | O_DIRECTORY) : root_fd;
	if (parent < 0)
		return fail("write", rel, errno);
	if (unlinkat(parent, name, 0) < 0 && errno != ENOENT) {
		(void)fail("write", rel, errno);
	} else if ((fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode)) < 0) {
		(void)fail("write", rel, errno);
	} else {
		if (copy_stdin(fd, size) < 0)
			(void)fail("write", rel, errno);
		else
			rc = 0;
		close(fd);
	}
	if (parent != root_fd)
		close(parent);
	return rc;
}

static int op_read(const char *rel, const char *max_s)
{
	char buf[16384], head[32];
	unsigned long max, left;
	struct stat st;
	int fd, rc = -1;

	if (parse_ulong(max_s, 0, (unsigned long)SSIZE_MAX, &max) < 0) {
		say("error: read ", rel, ": bad operands", NULL);
		return -1;
	}
	/* O_NONBLOCK: a fifo planted there must not block the open. */
	fd = open_resolved(rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, RESOLVE_IN_ROOT);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return write_all(STDOUT_FILENO, "-\n", 2) < 0 ? fail("read", rel, errno) : 0;
	if (fd < 0)
		return fail("read", rel, errno);
	if (fstat(fd, &st) < 0) {
		(void)fail("read", rel, errno);
	} else if (!S_ISREG(st.st_mode)) {
		say("error: read ", rel, " in ", root_path, ": not a regular file", NULL);
	} else if ((unsigned long)st.st_size > max) {
		say("error: read ", rel, " in ", root_path, ": larger than ", max_s, " bytes", NULL);
	} else {
		left = (unsigned long)st.st_size;
		fmt_ulong(left, head, sizeof(head) - 1);
		strcat(head, "\n");
		rc = write_all(STDOUT_FILENO, head, strlen(head));
		/* Exactly the size announced: a file that changes meanwhile is cut or padded with zeros. */
		while (rc == 0 && left > 0) {
			ssize_t r = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				rc = -1;
				break;
			}
			if (r == 0) {
				memset(buf, 0, sizeof(buf));
				r = (ssize_t)(left < sizeof(buf) ? left : sizeof(buf));
			}
			rc = write_all(STDOUT_FILENO, buf, (size_t)r);
			left -= (unsigned long)r;
		}
		if (rc < 0)
			(void)fail("read", rel, errno);
	}
	close(fd);
	return rc;
}

int cmd_beneath(int argc, char **argv)
{
	struct stat st;
	int i = 1;

	if (argc < 1)
		goto usage;
	root_path = argv[0];
	/* Modes are exactly what is asked: the umask must not take bits away (kubelet chmods after). */
	umask(0);
	root_fd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0 || fstat(root_fd, &st) < 0) {
		say("error: ", root_path, ": ", strerror(errno), NULL);
		return 1;
	}
	root_mode = st.st_mode & 07777;
	while (i < argc) {
		const char *op = argv[i];
		int rc;

		if (strcmp(op, "mkdir") == 0 && i + 1 < argc) {
			rc = make_dirs(argv[i + 1], strlen(argv[i + 1])) < 0 ? fail("mkdir", argv[i + 1], errno) : 0;
			i += 2;
		} else if (strcmp(op, "bind") == 0 && i + 2 < argc) {
			rc = op_bind(argv[i + 1], argv[i + 2]);
			i += 3;
		} else if (strcmp(op, "write") == 0 && i + 3 < argc) {
			rc = op_write(argv[i + 1], argv[i + 2], argv[i + 3]);
			i += 4;
		} else if (strcmp(op, "read") == 0 && i + 2 < argc) {
			rc = op_read(argv[i + 1], argv[i + 2]);
			i += 3;
		} else {
			goto usage;
		}
		if (rc < 0)
			return 1;
	}
	return 0;
usage:
	say("usage: crib-io beneath ROOT (mkdir REL | bind REL TARGET | write REL MODE SIZE | read REL MAX)...", NULL);
	return 2;
}
