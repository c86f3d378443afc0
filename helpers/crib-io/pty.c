/*
 * crib-io pty [--size WxH] [--] CMD [ARG...]
 *
 * Runs CMD on a new pseudo-terminal (as its controlling terminal, in a
 * session of its own) and relays: stdin -> terminal, terminal -> stdout.
 * Lines "WIDTH HEIGHT\n" on fd 3, if open, resize the terminal (the kernel
 * then sends SIGWINCH to its foreground process group). At the end of stdin
 * the terminal's EOF character (VEOF, normally ^D) is typed once; the
 * terminal itself stays open. SIGTERM and SIGHUP are passed on to CMD's
 * process group. Exits with CMD's status, 128+N if signal N killed it, 126
 * or 127 if CMD could not be run, 125 if crib-io itself failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "crib-io.h"

#define EXIT_SETUP 125
#define RESIZE_FD 3
#define BUF_SIZE 32768

static pid_t child;

static void forward(int sig)
{
	int saved = errno;

	/* Right after the fork CMD may not lead its process group yet: then CMD alone. */
	if (child > 0 && kill(-child, sig) < 0 && errno == ESRCH)
		kill(child, sig);
	errno = saved;
}

static int parse_size(const char *s, struct winsize *ws)
{
	unsigned long w, h;
	char buf[32];
	char *x;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	x = strchr(buf, 'x');
	if (!x)
		return -1;
	*x = '\0';
	if (parse_ulong(buf, 0, 65535, &w) < 0 || parse_ulong(x + 1, 0, 65535, &h) < 0)
		return -1;
	memset(ws, 0, sizeof(*ws));
	ws->ws_col = (unsigned short)w;
	ws->ws_row = (unsigned short)h;
	return 0;
}

/* ---- resize commands on fd 3 ----------------------------------------------- */

static int master = -1;
static char line[64];
static size_t line_len;
static int line_overlong;

static void resize_line(void)
{
	unsigned long w, h;
	char *sp;
	struct winsize ws;

	line[line_len] = '\0';
	sp = strchr(line, ' ');
	if (line_overlong || !sp)
		goto bad;
	*sp = '\0';
	if (parse_ulong(line, 0, 65535, &w) < 0 || parse_ulong(sp + 1, 0, 65535, &h) < 0)
		goto bad;
	memset(&ws, 0, sizeof(ws));
	ws.ws_col = (unsigned short)w;
	ws.ws_row = (unsigned short)h;
	if (ioctl(master, TIOCSWINSZ, &ws) < 0)
		say("crib-io: pty: resize: ", strerror(errno), NULL);
	return;
bad:
	say("crib-io: pty: ignoring a resize line that is not \"WIDTH HEIGHT\"", NULL);
}

static void resize_ready(struct relay_extra *x)
{
	char buf[256];
	ssize_t n = read(x->fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* The end of the commands (or an fd 3 not open for reading): no more resizes. */
		close(x->fd);
		x->fd = -1;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		char c = buf[i];

		if (c == '\n') {
			resize_line();
			line_len = 0;
			line_overlong = 0;
		} else if (c == '\r') {
			continue;
		} else if (line_len < sizeof(line) - 1) {
			line[line_len++] = c;
		} else {
			line_overlong = 1;
		}
	}
}

/* ---- the relay's hooks ----------------------------------------------------- */

/* The master reads EIO once no process has the terminal open any more: the end. */
static ssize_t read_master(struct relay *r)
{
	ssize_t n = read(r->in, r->buf, r->cap);

	if (n < 0 && errno == EIO)
		return 0;
	if (n > 0)
		r->len = (size_t)n;
	return n;
}

/*
 * stdin -> terminal. The end of stdin becomes the terminal's EOF character,
 * typed once (closing the master would hang the terminal up instead); the
 * read after that reports the end.
 */
static ssize_t read_stdin(struct relay *r)
{
	static int eof_typed;
	struct termios t;
	ssize_t n;

	if (eof_typed)
		return 0;
	n = read(r->in, r->buf, r->cap);
	if (n == 0) {
		eof_typed = 1;
		r->buf[0] = 4; /* ^D */
		if (tcgetattr(r->out, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE)
			r->buf[0] = t.c_cc[VEOF];
		n = 1;
	}
	if (n > 0)
		r->len = (size_t)n;
	return n;
}

/* Once nobody has the terminal open the master says EIO: input for it is dropped. */
static ssize_t write_master(struct relay *r)
{
	ssize_t w = write(r->out, r->buf + r->off, r->len - r->off);

	if (w < 0 && errno == EIO)
		return (ssize_t)(r->len - r->off);
	return w;
}

/* ---- the child ------------------------------------------------------------- */

static void close_from(int lowfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
		return;
#endif
	for (int fd = lowfd; fd < 65536; fd++)
		close(fd);
}

static void __attribute__((noreturn)) run_child(int slave, char **cmd)
{
	sigset_t none;
	int err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, RESIZE_FD + 1);

	signal(SIGPIPE, SIG_DFL); /* an ignored signal stays ignored across exec */
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0 ||
	    dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0) {
		if (err >= 0)
			dup2(err, STDERR_FILENO);
		say("crib-io: pty: cannot set up the terminal: ", strerror(errno), NULL);
		_exit(EXIT_SETUP);
	}
	/* Everything else goes; the copy of crib-io's stderr closes itself at exec. */
	if (err >= 0) {
		for (int fd = 3; fd < err; fd++)
			close(fd);
		close_from(err + 1);
	} else {
		close_from(3);
	}
	execvp(cmd[0], cmd);

	int e = errno;
	if (err >= 0) {
		dup2(err, STDERR_FILENO);
		say("crib-io: pty: cannot run ", cmd[0], ": ", strerror(e), NULL);
	}
	_exit(e == ENOENT ? 127 : 126);
}

/* ---- the parent ------------------------------------------------------------ */

static int open_pair(int *m, int *s)
{
	unsigned int n;
	char name[32] = "/dev/pts/";

	*m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*m < 0)
		return -1;
	if (grantpt(*m) < 0 || unlockpt(*m) < 0)
		return -1;
	/*
	 * Opened here, before the fork, and handed to CMD: the slave is open from
	 * now until CMD (and what it starts) is done with it, so the master's EIO
	 * can only mean the end, never "not opened yet". TIOCGPTPEER (Linux 4.13)
	 * opens it without a path; else by its number (not ptsname: it needs
	 * snprintf, which would double the size of the binary).
	 */
	*s = ioctl(*m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*s >= 0)
		return 0;
	if (ioctl(*m, TIOCGPTN, &n) < 0)
		return -1;
	fmt_ulong(n, name + strlen(name), sizeof(name) - strlen(name));
	*s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	return *s < 0 ? -1 : 0;
}

static int exit_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return EXIT_SETUP;
}

int cmd_pty(int argc, char **argv)
{
	static unsigned char in_buf[BUF_SIZE], out_buf[BUF_SIZE];
	struct winsize ws;
	int have_size = 0, slave = -1, st;
	int i = 0;
	/* Before anything is opened, or the master could be fd 3. */
	int resize_fd = fcntl(RESIZE_FD, F_GETFD) >= 0 ? RESIZE_FD : -1;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--size") == 0 && i + 1 < argc && parse_size(argv[i + 1], &ws) == 0) {
			have_size = 1;
			i += 2;
			continue;
		}
		say("crib-io: pty: bad option ", argv[i], " (usage: crib-io pty [--size WxH] [--] CMD [ARG...])", NULL);
		return EXIT_SETUP;
	}
	if (i >= argc) {
		say("crib-io: pty: no command (usage: crib-io pty [--size WxH] [--] CMD [ARG...])", NULL);
		return EXIT_SETUP;
	}

	if (open_pair(&master, &slave) < 0) {
		say("crib-io: pty: cannot open a pseudo-terminal: ", strerror(errno), NULL);
		return EXIT_SETUP;
	}
	if (have_size && ioctl(master, TIOCSWINSZ, &ws) < 0) {
		say("crib-io: pty: cannot set the size: ", strerror(errno), NULL);
		return EXIT_SETUP;
	}

	/* Signals that arrive before the handlers are set wait until the child's pid is known. */
	sigset_t fwd, old;
	sigemptyset(&fwd);
	sigaddset(&fwd, SIGTERM);
	sigaddset(&fwd, SIGHUP);
	sigprocmask(SIG_BLOCK, &fwd, &old);

	child = fork();
	if (child < 0) {
		say("crib-io: pty: fork: ", strerror(errno), NULL);
		return EXIT_SETUP;
	}
	if (child == 0)
		run_child(slave, argv + i);
	close(slave);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);

	set_nonblock(master);
	struct relay r[2] = {
		{ .in_name = "stdin", .out_name = "terminal", .in = STDIN_FILENO, .out = master,
		  .buf = in_buf, .cap = sizeof(in_buf), .fill = read_stdin, .drain = write_master },
		{ .in_name = "terminal", .out_name = "stdout", .in = master, .out = STDOUT_FILENO,
		  .buf = out_buf, .cap = sizeof(out_buf), .fill = read_master },
	};
	struct relay_extra resize = { .fd = resize_fd, .ready = resize_ready };
	struct relay_error e;
	if (relay_run(r, 2, &r[1], &resize, 1, &e) < 0) {
		say("crib-io: pty: ", e.op, " ", e.name, ": ", strerror(e.err), NULL);
		/* Hang the terminal up: what still holds it gets SIGHUP. */
		close(master);
	}
	/*
	 * Otherwise nothing has the terminal open any more. The master stays open
	 * until CMD is gone: closing it now would hang up a CMD that closed its
	 * stdio but has not yet exited, and it would die of SIGHUP.
	 */
	siginfo_t info;
	while (waitid(P_PID, (id_t)child, &info, WEXITED | WNOWAIT) < 0) {
		if (errno != EINTR) {
			say("crib-io: pty: waitid: ", strerror(errno), NULL);
			return EXIT_SETUP;
		}
	}
	/* CMD has ended but is not reaped yet, so its pid still names it; no forwarding after the reaping. */
	sigprocmask(SIG_BLOCK, &fwd, NULL);
	if (waitpid(child, &st, 0) < 0) {
		say("crib-io: pty: waitpid: ", strerror(errno), NULL);
		return EXIT_SETUP;
	}
	return exit_status(st);
}
