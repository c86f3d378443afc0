/*
 * pause: the process that holds a crib pod sandbox's namespaces open.
 *
 * It normally runs as PID 1 of the pod's PID namespace, so it has two jobs:
 * sleep without using CPU, and collect the exit status of every orphan the
 * kernel hands to it so that no zombie lingers. SIGINT and SIGTERM end it
 * cleanly (exit 0). A PID 1 ignores signals it has no handler for, so every
 * signal we care about gets an explicit handler.
 *
 * stdio is deliberately avoided to keep the static binary small.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PAUSE_VERSION
#define PAUSE_VERSION "3.10-crib"
#endif

#define STR_AND_LEN(s) (s), (sizeof(s) - 1)

static void put(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

/* Collect every child that has already finished; never blocks. */
static void reap_all(void)
{
	int st;
	pid_t pid;

	do {
		pid = waitpid(-1, &st, WNOHANG);
	} while (pid > 0 || (pid < 0 && errno == EINTR));
}

static void on_sigchld(int sig)
{
	int saved = errno;

	(void)sig;
	reap_all();
	errno = saved;
}

static void on_terminate(int sig)
{
	/* One write per message so the line cannot be split. */
	if (sig == SIGTERM)
		put(STDERR_FILENO, STR_AND_LEN("pause: shutting down, got SIGTERM\n"));
	else
		put(STDERR_FILENO, STR_AND_LEN("pause: shutting down, got SIGINT\n"));
	_exit(0);
}

static int install(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	/* While any handler runs, hold off the others: one shutdown line only. */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGCHLD);
	return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		if (argc == 2 && strcmp(argv[1], "-v") == 0) {
			put(STDOUT_FILENO, STR_AND_LEN("pause " PAUSE_VERSION "\n"));
			return 0;
		}
		put(STDERR_FILENO, STR_AND_LEN("usage: pause [-v]\n"));
		return 1;
	}

	if (install(SIGINT, on_terminate, 0) < 0 ||
	    install(SIGTERM, on_terminate, 0) < 0 ||
	    install(SIGCHLD, on_sigchld, SA_RESTART | SA_NOCLDSTOP) < 0) {
		put(STDERR_FILENO, STR_AND_LEN("pause: cannot install signal handlers\n"));
		return 2;
	}

	/*
	 * Children that exited before the SIGCHLD handler existed raised no
	 * signal we saw; collect them now. Block SIGCHLD meanwhile so the
	 * handler and this loop do not interleave.
	 */
	{
		sigset_t chld, old;

		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigprocmask(SIG_BLOCK, &chld, &old);
		reap_all();
		sigprocmask(SIG_SETMASK, &old, NULL);
	}

	for (;;)
		pause();
}
