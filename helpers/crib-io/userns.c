/*
 * crib-io userns PIN UIDMAP GIDMAP [NETNS_PIN]
 *
 *   A new user namespace with one uid and one gid mapping (each "CONTAINER:HOST:LENGTH"), pinned
 *   by a bind mount on PIN (an existing file). With NETNS_PIN, also a new network namespace owned
 *   by that user namespace, lo up, pinned on NETNS_PIN (an existing file).
 *
 * A pod's user namespace is made here, not by runc in pause, so that it outlives pause as the
 * netns pin does, and so that the pod's netns can be made inside it before pause starts (CNI and
 * pause then run side by side, as for any pod). The netns must be owned by the pod's user
 * namespace: the pod's root can then administer it, and the kernel lets the containers mount sysfs.
 *
 * A child holds the namespaces while this process (root on the node) writes the child's maps and
 * bind-mounts its namespace files: a process cannot write maps for its own new namespace, and once
 * inside it could not mount on the node's mount table. Exit 0, or 1 with a line on stderr and
 * nothing left mounted; 2: bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crib-io.h"

/* "C:H:L" with three u32 values and L >= 1; written to the map file as "C H L\n". */
struct idmap {
	unsigned long c, h, l;
};

static int parse_map(const char *s, struct idmap *m)
{
	unsigned long v[3];
	int n = 0;

	for (;;) {
		unsigned long x = 0;
		const char *d = s;

		for (; *s >= '0' && *s <= '9'; s++) {
			x = x * 10 + (unsigned long)(*s - '0');
			if (x > 4294967295UL)
				return -1;
		}
		if (s == d || n == 3)
			return -1;
		v[n++] = x;
		if (*s == '\0')
			break;
		if (*s++ != ':')
			return -1;
	}
	if (n != 3 || v[2] == 0 || v[0] + v[2] - 1 > 4294967295UL || v[1] + v[2] - 1 > 4294967295UL)
		return -1;
	m->c = v[0];
	m->h = v[1];
	m->l = v[2];
	return 0;
}

static int write_map(pid_t pid, const char *file, const struct idmap *m)
{
	char path[64] = "/proc/", line[64] = "";
	char num[24];
	int fd, rc;

	fmt_ulong((unsigned long)pid, path + strlen(path), sizeof(path) - strlen(path));
	strcat(path, "/");
	strcat(path, file);
	fmt_ulong(m->c, num, sizeof(num));
	strcat(line, num);
	strcat(line, " ");
	fmt_ulong(m->h, num, sizeof(num));
	strcat(line, num);
	strcat(line, " ");
	fmt_ulong(m->l, num, sizeof(num));
	strcat(line, num);
	strcat(line, "\n");
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* The kernel takes a map in one write. */
	rc = write(fd, line, strlen(line)) == (ssize_t)strlen(line) ? 0 : -1;
	close(fd);
	return rc;
}

/*
 * The child: a new user namespace, then (told its maps are written) a network namespace in it.
 * Reports each step's errno (0: done) as one int on `up`; waits on `down` between them, and at the
 * end until the parent closes `down` (the pins are made by then).
 */
static void child(int up, int down, int want_netns)
{
	int err = 0;
	char c;

	if (unshare(CLONE_NEWUSER) < 0)
		err = errno;
	(void)write_all(up, &err, sizeof(err));
	if (err || read(down, &c, 1) != 1)
		_exit(1);
	if (want_netns) {
		if (unshare(CLONE_NEWNET) < 0)
			err = errno;
		else if (loopback_up() < 0)
			err = errno;
		(void)write_all(up, &err, sizeof(err));
	}
	while (read(down, &c, 1) > 0)
		;
	_exit(0);
}

static int child_step(int up, const char *what, const char *path)
{
	int err;

	if (read(up, &err, sizeof(err)) != (ssize_t)sizeof(err)) {
		say("error: ", what, " ", path, ": the child ended", NULL);
		return -1;
	}
	if (err) {
		say("error: ", what, " ", path, ": ", strerror(err), NULL);
		return -1;
	}
	return 0;
}

static int bind_ns(pid_t pid, const char *ns, const char *pin)
{
	char path[64] = "/proc/";

	fmt_ulong((unsigned long)pid, path + strlen(path), sizeof(path) - strlen(path));
	strcat(path, "/ns/");
	strcat(path, ns);
	if (mount(path, pin, NULL, MS_BIND, NULL) < 0) {
		say("error: bind ", pin, ": ", strerror(errno), NULL);
		return -1;
	}
	return 0;
}

int cmd_userns(int argc, char **argv)
{
	struct idmap uids, gids;
	int up[2], down[2], rc = 1, pinned = 0;
	const char *pin, *netns;
	pid_t pid;

	if ((argc != 3 && argc != 4) || parse_map(argv[1], &uids) < 0 || parse_map(argv[2], &gids) < 0) {
		say("error: usage: crib-io userns PIN UID_C:H:L GID_C:H:L [NETNS_PIN]", NULL);
		return 2;
	}
	pin = argv[0];
	netns = argc == 4 ? argv[3] : NULL;
	if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0) {
		say("error: pipe: ", strerror(errno), NULL);
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		say("error: fork: ", strerror(errno), NULL);
		return 1;
	}
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		child(up[1], down[0], netns != NULL);
	}
	close(up[1]);
	close(down[0]);
	if (child_step(up[0], "unshare user", pin) < 0)
		goto out;
	/* As root on the node this process may map any ids, and setgroups stays allowed. */
	if (write_map(pid, "uid_map", &uids) < 0 || write_map(pid, "gid_map", &gids) < 0) {
		say("error: id maps for ", pin, ": ", strerror(errno), NULL);
		goto out;
	}
	if (bind_ns(pid, "user", pin) < 0)
		goto out;
	pinned = 1;
	if (netns) {
		if (write_all(down[1], "n", 1) < 0 || child_step(up[0], "unshare net", netns) < 0 || bind_ns(pid, "net", netns) < 0)
			goto out;
	}
	rc = 0;
out:
	close(down[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (rc != 0 && pinned)
		(void)umount2(pin, UMOUNT_NOFOLLOW);
	return rc;
}
