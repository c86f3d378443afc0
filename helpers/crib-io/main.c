/* crib-io: dispatch to the subcommand. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "crib-io.h"

#ifndef CRIB_IO_VERSION
#define CRIB_IO_VERSION "0.1.0"
#endif

static const char usage[] =
	"usage: crib-io pty [--size WxH] [--] CMD [ARG...]\n"
	"       crib-io attach SOCKET\n"
	"       crib-io netconnect NETNS_PATH PORT\n"
	"       crib-io mount (netns PIN | tmpfs DIR BYTES | umount TARGET)...\n"
	"       crib-io reap PIDFILE -- CMD [ARG...]\n"
	"       crib-io monitor MONITOR_PIDFILE PIDFILE EXITFILE -- CMD [ARG...]\n"
	"       crib-io beneath ROOT (mkdir REL | bind REL TARGET | write REL MODE SIZE | read REL MAX)...\n"
	"       crib-io userns PIN UID_C:H:L GID_C:H:L [NETNS_PIN]\n"
	"       crib-io idmap USERNS (SOURCE TARGET)...\n"
	"       crib-io -v\n";

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	/* A closed stdin, stdout or stderr becomes /dev/null, so no fd crib-io opens can land there. */
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			return 125;
	}
	/* A reader that went away is an EPIPE error from write, not a silent death. */
	signal(SIGPIPE, SIG_IGN);

	if (strcmp(cmd, "pty") == 0)
		return cmd_pty(argc - 2, argv + 2);
	if (strcmp(cmd, "attach") == 0)
		return cmd_attach(argc - 2, argv + 2);
	if (strcmp(cmd, "netconnect") == 0)
		return cmd_netconnect(argc - 2, argv + 2);
	if (strcmp(cmd, "mount") == 0)
		return cmd_mount(argc - 2, argv + 2);
	if (strcmp(cmd, "reap") == 0)
		return cmd_reap(argc - 2, argv + 2);
	if (strcmp(cmd, "monitor") == 0)
		return cmd_monitor(argc - 2, argv + 2);
	if (strcmp(cmd, "beneath") == 0)
		return cmd_beneath(argc - 2, argv + 2);
	if (strcmp(cmd, "userns") == 0)
		return cmd_userns(argc - 2, argv + 2);
	if (strcmp(cmd, "idmap") == 0)
		return cmd_idmap(argc - 2, argv + 2);
	if (strcmp(cmd, "-v") == 0 || strcmp(cmd, "--version") == 0) {
		(void)write_all(STDOUT_FILENO, "crib-io " CRIB_IO_VERSION "\n", strlen("crib-io " CRIB_IO_VERSION "\n"));
		return 0;
	}
	(void)write_all(STDERR_FILENO, usage, sizeof(usage) - 1);
	return 2;
}
