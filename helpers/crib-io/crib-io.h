/*
 * crib-io: the helper cribd spawns for what Node.js cannot do itself: the CRI
 * streaming calls (Exec with a TTY, Attach, PortForward), a pod's mounts, and
 * reaping ExecSync's command.
 *
 *   crib-io pty [--size WxH] [--] CMD ARGS...   a pseudo-terminal for CMD
 *   crib-io attach SOCKET                       conmon's SOCK_SEQPACKET attach socket
 *   crib-io netconnect NETNS_PATH PORT          TCP to localhost inside a netns
 *   crib-io mount OP...                         a pod's netns pin, shm tmpfs, unmounts
 *   crib-io reap PIDFILE -- CMD ARGS...         ExecSync's subreaper for `runc exec -d`
 *   crib-io monitor MPID PID EXIT -- CMD...     pause's monitor for `runc run -d`: its exit file
 *   crib-io beneath ROOT OP...                  paths inside a volume, never followed out of it
 *   crib-io userns PIN UIDS GIDS [NETNS_PIN]    a pod's pinned user namespace (and its netns)
 *   crib-io idmap USERNS (SOURCE TARGET)...     idmapped clones of mounts
 *
 * See README.md beside this file for the stdio protocols.
 */
#ifndef CRIB_IO_H
#define CRIB_IO_H

#include <stddef.h>
#include <sys/types.h>

/* ---- relay.c: the shared poll loop ---------------------------------------- */

/*
 * One direction of a relay: chunks read from `in` are written to `out`.
 * A chunk is written completely before the next one is read, so a slow
 * output holds its input back (backpressure) without blocking the other
 * directions, as long as `out` is non-blocking. Outputs crib-io did not
 * create (stdout) stay blocking: their reader is cribd, which never waits
 * for crib-io, so waiting on it cannot deadlock.
 */
struct relay {
	const char *in_name, *out_name; /* for error messages */
	int in, out;
	unsigned char *buf;
	size_t cap;      /* size of buf */
	size_t off, len; /* the pending chunk: buf[off..len) */
	int eof;         /* input has ended; finish runs once the chunk is written */
	int done;
	/* Reads a chunk into buf, setting len. Returns > 0, 0 at the end of the
	 * input, or -1 with errno (EAGAIN and EINTR are retried). NULL: read(2). */
	ssize_t (*fill)(struct relay *);
	/* Writes from buf + off. Returns bytes written or -1 with errno (EAGAIN
	 * and EINTR: wait for POLLOUT). NULL: write(2). */
	ssize_t (*drain)(struct relay *);
	/* The input has ended and everything was written: pass the end on.
	 * Returns 0 or -1 with errno. NULL: nothing. */
	int (*finish)(struct relay *);
};

/* A further fd polled for input (pty: the resize fd). */
struct relay_extra {
	int fd; /* polled while >= 0; the handler sets it to -1 to stop */
	void (*ready)(struct relay_extra *);
};

/* Why relay_run stopped early. */
struct relay_error {
	const char *op;   /* "read" or "write" (or what finish did) */
	const char *name; /* the fd's name */
	int err;          /* errno */
};

/*
 * Runs the relays until every one is done, or until `until` (if not NULL)
 * is done. Returns 0, or -1 with *e filled in after an I/O error.
 */
int relay_run(struct relay *r, size_t n, struct relay *until,
	      struct relay_extra *x, size_t nx, struct relay_error *e);

/* ---- util.c ---------------------------------------------------------------- */

/* Writes all of buf to a blocking fd (EINTR retried). 0, or -1 with errno. */
int write_all(int fd, const void *buf, size_t n);
/* Writes the strings, up to a NULL, to stderr as one line (one write). */
void say(const char *s, ...);
/* Parses a decimal number in [min, max] that is all of s. 0 or -1. */
int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* A wait status as a shell gives it: the exit code, or 128 + the signal. */
int status_code(int st);
/* The pid in a pid file (a runtime's, a monitor's): decimal digits, perhaps a newline. 0 if unreadable. */
pid_t read_pid(const char *file);
int set_nonblock(int fd);
/* Sets lo up in the current network namespace (the kernel then gives it 127.0.0.1/8 and ::1). */
int loopback_up(void);
/* Decimal digits of v into buf (truncated to size - 1). */
void fmt_ulong(unsigned long v, char *buf, size_t size);

/* ---- the subcommands ------------------------------------------------------- */

int cmd_pty(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_netconnect(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_reap(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_beneath(int argc, char **argv);
int cmd_userns(int argc, char **argv);
int cmd_idmap(int argc, char **argv);

#endif
