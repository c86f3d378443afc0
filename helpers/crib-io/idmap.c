/*
 * crib-io idmap USERNS (SOURCE TARGET)...
 *
 *   For each pair: a clone of the mount at SOURCE (open_tree OPEN_TREE_CLONE, that mount only),
 *   idmapped with the user namespace at USERNS (mount_setattr MOUNT_ATTR_IDMAP), attached at
 *   TARGET (move_mount; TARGET exists, a directory for a directory, a file for a file).
 *
 * What a user-namespaced pod sees of the node's files: an image layer or a volume idmapped with
 * the pod's namespace shows files owned by node uid 0 as uid 0 inside the pod, and whatever the pod
 * writes there lands as node uid 0, not as the pod's unprivileged node uid. runc 1.1 cannot make
 * such mounts; cribd asks for them here and hands runc (or overlayfs) the TARGETs.
 *
 * Every pair is tried even after one failed; each failure is one line on stderr and the exit
 * status is then 1 (2: bad usage).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crib-io.h"

/* The kernel's ABI (linux/mount.h), which musl's headers do not carry. */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define CRIB_OPEN_TREE_CLONE 1
#define CRIB_MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define CRIB_MOUNT_ATTR_IDMAP 0x00100000
#define CRIB_AT_EMPTY_PATH 0x1000
#define CRIB_AT_NO_AUTOMOUNT 0x800

struct crib_mount_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

static int fail(const char *what, const char *path)
{
	say("error: ", what, " ", path, ": ", strerror(errno), NULL);
	return -1;
}

static int idmap_one(int userns, const char *source, const char *target)
{
	struct crib_mount_attr attr = { .attr_set = CRIB_MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };
	/* A symlink in SOURCE is followed, as runc follows one in a bind mount's source (the caller's choice). */
	int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source, CRIB_OPEN_TREE_CLONE | O_CLOEXEC | CRIB_AT_NO_AUTOMOUNT);
	int rc = -1;

	if (tree < 0)
		return fail("open_tree", source);
	if (syscall(SYS_mount_setattr, tree, "", CRIB_AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		fail("idmap", source);
	else if (syscall(SYS_move_mount, tree, "", AT_FDCWD, target, CRIB_MOVE_MOUNT_F_EMPTY_PATH) < 0)
		fail("move_mount", target);
	else
		rc = 0;
	close(tree);
	return rc;
}

int cmd_idmap(int argc, char **argv)
{
	int userns, failed = 0;

	if (argc < 3 || argc % 2 != 1) {
		say("error: usage: crib-io idmap USERNS (SOURCE TARGET)...", NULL);
		return 2;
	}
	userns = open(argv[0], O_RDONLY | O_CLOEXEC);
	if (userns < 0) {
		fail("open", argv[0]);
		return 1;
	}
	for (int i = 1; i < argc; i += 2)
		failed |= idmap_one(userns, argv[i], argv[i + 1]) < 0;
	close(userns);
	return failed ? 1 : 0;
}
