/*
 * crib-io monitor MONITOR_PIDFILE PIDFILE EXITFILE -- CMD [ARG...]
 *
 * The monitor of a process that needs no stdio and no log (a pod's pause): what conmon does for
 * it, without conmon's start-up. crib-io forks the monitor, which starts a session of its own,
 * writes its pid to MONITOR_PIDFILE, becomes a child subreaper and runs CMD (a runtime's
 * `run --detach --pid-file PIDFILE ...`) with stdio on /dev/null. The runtime starts the process
 * and exits; the process, orphaned, becomes the monitor's child. The monitor reports its pid to
 * crib-io, which prints it and exits 0; the monitor stays, waits for the process and records its
 * exit as conmon does: its status (exit code, or 128 + the signal) in EXITFILE, written beside it
 * as `.NAME` and renamed into place, so a watcher of the directory sees it whole.
 *
 * Until it has reported, the monitor dies with crib-io (PR_SET_PDEATHSIG): killing crib-io
 * cancels the run; the caller ends what was started (the runtime, in the monitor's process group,
 * and the process, in its cgroup). Exit: 0 with the pid on stdout; the runtime's status when it
 * failed (its messages are in its own log); 125 for crib-io's own failures, a line on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crib-io.h"

/* Writes `text` to `file` whole (a new file: created or truncated). 0, or -1 with errno. */
static int write_file(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r;

	if (fd < 0)
		return -1;
	r = write_all(fd, text, strlen(text));
	if (close(fd) < 0)
		r = -1;
	return r;
}

/* EXITFILE's status, written as `.NAME` in its directory and renamed into place. */
static int record_exit(const char *exitfile, int status)
{
	char tmp[4096], num[16];
	const char *slash = strrchr(exitfile, '/');
	size_t dir = slash ? (size_t)(slash - exitfile) + 1 : 0;

	if (strlen(exitfile) + 2 > sizeof(tmp))
		return -1;
	memcpy(tmp, exitfile, dir);
	tmp[dir] = '.';
	strcpy(tmp + dir + 1, exitfile + dir);
	fmt_ulong((unsigned long)status, num, sizeof(num));
	if (write_file(tmp, num) < 0)
		return -1;
	return rename(tmp, exitfile);
}

/* One report line to crib-io: "pid N", "exit N" or "error TEXT". */
static void report(int fd, const char *what, const char *text)
{
	char line[512];
	size_t n = strlen(what);

	memcpy(line, what, n);
	line[n++] = ' ';
	strncpy(line + n, text, sizeof(line) - n - 2);
	line[sizeof(line) - 2] = '\0';
	n = strlen(line);
	line[n++] = '\n';
	(void)write_all(fd, line, n);
}

/* The monitor: never returns. */
static void monitor(int rep, pid_t parent, char **argv)
{
	const char *mon_pidfile = argv[0], *pidfile = argv[1], *exitfile = argv[2];
	char num[16];
	pid_t runtime, proc, r;
	int st, null;

	/* Dies with crib-io until it has reported (a cancel); crib-io may already be gone. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(125);
	setsid();
	if (chdir("/") < 0) {
		report(rep, "error", "chdir /");
		_exit(125);
	}
	/* cribd's pipes (crib-io's stdio) are not held: its call ends when crib-io exits. */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) {
		report(rep, "error", "stdio on /dev/null");
		_exit(125);
	}
	fmt_ulong((unsigned long)getpid(), num, sizeof(num));
	if (write_file(mon_pidfile, num) < 0) {
		report(rep, "error", strerror(errno));
		_exit(125);
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		report(rep, "error", "PR_SET_CHILD_SUBREAPER");
		_exit(125);
	}
	runtime = fork();
	if (runtime < 0) {
		report(rep, "error", "fork");
		_exit(125);
	}
	if (runtime == 0) {
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[4], argv + 4);
		_exit(127);
	}
	while ((r = waitpid(runtime, &st, 0)) < 0 && errno == EINTR)
		;
	if (r < 0 || status_code(st) != 0) {
		fmt_ulong(r < 0 ? 125 : (unsigned long)status_code(st), num, sizeof(num));
		report(rep, "exit", num);
		_exit(0);
	}
	proc = read_pid(pidfile);
	if (proc == 0) {
		report(rep, "error", "no pid in the pid file");
		_exit(125);
	}
	/* From here the monitor outlives crib-io (and cribd). */
	if (prctl(PR_SET_PDEATHSIG, 0) < 0) {
		report(rep, "error", "PR_SET_PDEATHSIG");
		_exit(125);
	}
	fmt_ulong((unsigned long)proc, num, sizeof(num));
	report(rep, "pid", num);
	close(rep);
	/* Orphans of the process's own (on the node's PID namespace) may come first: reaped, passed over. */
	for (;;) {
		r = waitpid(-1, &st, 0);
		if (r == proc)
			_exit(record_exit(exitfile, status_code(st)) < 0 ? 1 : 0);
		if (r < 0 && errno != EINTR)
			_exit(1);
	}
}

int cmd_monitor(int argc, char **argv)
{
	char buf[512];
	size_t got = 0;
	ssize_t n;
	int p[2], st;
	unsigned long code;
	pid_t child, self = getpid();

	if (argc < 5 || strcmp(argv[3], "--") != 0) {
		say("usage: crib-io monitor MONITOR_PIDFILE PIDFILE EXITFILE -- CMD [ARG...]", NULL);
		return 2;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		say("error: pipe: ", strerror(errno), NULL);
		return 125;
	}
	child = fork();
	if (child < 0) {
		say("error: fork: ", strerror(errno), NULL);
		return 125;
	}
	if (child == 0) {
		close(p[0]);
		monitor(p[1], self, argv);
	}
	close(p[1]);
	while (got < sizeof(buf) - 1 && ((n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0 || (n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	/* A monitor that failed before reporting has exited: reaped here. The one that reported has not. */
	if (strncmp(buf, "pid ", 4) == 0) {
		size_t len = strlen(buf + 4);
		buf[4 + len] = '\n';
		return write_all(STDOUT_FILENO, buf + 4, len + 1) < 0 ? 125 : 0;
	}
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (strncmp(buf, "exit ", 5) == 0 && parse_ulong(buf + 5, 1, 255, &code) == 0) {
		say("error: ", argv[4], " exited with ", buf + 5, NULL);
		return (int)code;
	}
	say("error: monitor: ", got ? buf + (strncmp(buf, "error ", 6) == 0 ? 6 : 0) : "exited without a report", NULL);
	return 125;
}
