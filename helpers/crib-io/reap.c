/*
 * crib-io reap PIDFILE -- CMD [ARG...]
 *
 * ExecSync's monitor, conmon's way without conmon's cost: crib-io becomes a child subreaper and
 * runs CMD, a runtime's `exec --detach --pid-file PIDFILE ...`. The runtime starts the command
 * with crib-io's stdio and exits; the command, orphaned, becomes crib-io's child. crib-io waits for
 * it and exits with its status (its exit code, or 128 + the signal that ended it), whatever it
 * left running in the background with the output still open. A runtime that fails exits
 * before writing PIDFILE: crib-io exits with its status, its message on stderr. crib-io's own
 * failures: a line on stderr, status 125.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crib-io.h"

int cmd_reap(int argc, char **argv)
{
	pid_t runtime, cmd, r;
	int st;

	if (argc < 3 || strcmp(argv[1], "--") != 0) {
		say("usage: crib-io reap PIDFILE -- CMD [ARG...]", NULL);
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		say("error: PR_SET_CHILD_SUBREAPER: ", strerror(errno), NULL);
		return 125;
	}
	runtime = fork();
	if (runtime < 0) {
		say("error: fork: ", strerror(errno), NULL);
		return 125;
	}
	if (runtime == 0) {
		execvp(argv[2], argv + 2);
		say("error: ", argv[2], ": ", strerror(errno), NULL);
		_exit(127);
	}
	while ((r = waitpid(runtime, &st, 0)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		say("error: waiting for ", argv[2], ": ", strerror(errno), NULL);
		return 125;
	}
	if (status_code(st) != 0)
		return status_code(st);
	cmd = read_pid(argv[0]);
	if (cmd == 0) {
		say("error: no pid in ", argv[0], NULL);
		return 125;
	}
	/* Orphans of the command's own (on the node's PID namespace) may come first: reaped, passed over. */
	for (;;) {
		r = waitpid(-1, &st, 0);
		if (r == cmd)
			return status_code(st);
		if (r < 0 && errno != EINTR) {
			say("error: waiting for the command: ", strerror(errno), NULL);
			return 125;
		}
	}
}
