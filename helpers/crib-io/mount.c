/*
 * crib-io mount OP [OP...]
 *
 *   netns PIN         a new network namespace with lo up, pinned by a bind mount on PIN (an
 *                     existing file)
 *   tmpfs DIR BYTES   a tmpfs on DIR (the pod's /dev/shm: nosuid,nodev,noexec, mode 1777)
 *   umount TARGET     unmounts TARGET; one that is not mounted (or missing) is already done
 *
 * The mount-table changes of one pod call in one process: cribd would otherwise spawn unshare,
 * mount and umount (and the loopback CNI plugin) once each. Every operation runs even after one
 * failed; each failure is one line on stderr, and the exit status is then 1 (2: bad usage).
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "crib-io.h"

/* tmpfs's size option: "size=" and at most 20 digits. */
#define SIZE_OPT_MAX 64

static int fail(const char *what, const char *path)
{
	say("error: ", what, " ", path, ": ", strerror(errno), NULL);
	return -1;
}

/*
 * The namespace is this process's own from here on (nothing after it needs the old one); it
 * outlives the process through the bind mount of /proc/thread-self/ns/net.
 */
static int op_netns(const char *pin)
{
	if (unshare(CLONE_NEWNET) < 0)
		return fail("unshare", pin);
	if (loopback_up() < 0)
		return fail("lo up in", pin);
	if (mount("/proc/thread-self/ns/net", pin, NULL, MS_BIND, NULL) < 0)
		return fail("bind", pin);
	return 0;
}

static int op_tmpfs(const char *dir, const char *bytes)
{
	char opts[SIZE_OPT_MAX] = "mode=1777,size=";
	unsigned long n;

	if (parse_ulong(bytes, 1, (unsigned long)-1, &n) < 0) {
		say("error: tmpfs ", dir, ": bad size ", bytes, NULL);
		return -1;
	}
	fmt_ulong(n, opts + strlen(opts), sizeof(opts) - strlen(opts));
	if (mount("shm", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		return fail("tmpfs", dir);
	return 0;
}

static int op_umount(const char *target)
{
	if (umount2(target, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
		return fail("umount", target);
	return 0;
}

int cmd_mount(int argc, char **argv)
{
	int failed = 0;

	if (argc == 0)
		goto usage;
	for (int i = 0; i < argc;) {
		const char *op = argv[i];
		int left = argc - i - 1;

		if (strcmp(op, "netns") == 0 && left >= 1) {
			failed |= op_netns(argv[i + 1]) < 0;
			i += 2;
		} else if (strcmp(op, "tmpfs") == 0 && left >= 2) {
			failed |= op_tmpfs(argv[i + 1], argv[i + 2]) < 0;
			i += 3;
		} else if (strcmp(op, "umount") == 0 && left >= 1) {
			failed |= op_umount(argv[i + 1]) < 0;
			i += 2;
		} else {
			goto usage;
		}
	}
	return failed ? 1 : 0;
usage:
	say("error: usage: crib-io mount (netns PIN | tmpfs DIR BYTES | umount TARGET)...", NULL);
	return 2;
}
