/*
 * crib-io netconnect NETNS_PATH PORT
 *
 * Enters the network namespace pinned at NETNS_PATH, connects to
 * 127.0.0.1:PORT (or to [::1]:PORT when IPv4 is refused and the namespace
 * has IPv6) and relays stdin -> socket, socket -> stdout, half-closing each
 * way: the end of stdin becomes shutdown(SHUT_WR), the socket's end closes
 * stdout. Exits 0 once both ways have ended. On failure it writes exactly
 * one line, "error: ..." (for a failed connect:
 * "error: connect 127.0.0.1:PORT: <strerror>"), to stderr and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crib-io.h"

#define BUF_SIZE 65536

static int try_connect(int family, unsigned short port)
{
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
	struct sockaddr *a;
	socklen_t alen;
	int fd, rc, one = 1;

	if (family == AF_INET) {
		memset(&v4, 0, sizeof(v4));
		v4.sin_family = AF_INET;
		v4.sin_port = htons(port);
		v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a = (struct sockaddr *)&v4;
		alen = sizeof(v4);
	} else {
		memset(&v6, 0, sizeof(v6));
		v6.sin6_family = AF_INET6;
		v6.sin6_port = htons(port);
		v6.sin6_addr = in6addr_loopback;
		a = (struct sockaddr *)&v6;
		alen = sizeof(v6);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	do {
		rc = connect(fd, a, alen);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	/* As Go's net.Dial does: interactive streams should not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/*
 * Once the peer has closed the connection, what stdin still brings has
 * nowhere to go and is dropped; reading the socket reports how it ended
 * (its data first, then the end or the reset).
 */
static ssize_t send_up(struct relay *r)
{
	ssize_t w = send(r->out, r->buf + r->off, r->len - r->off, MSG_NOSIGNAL);

	if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
		return (ssize_t)(r->len - r->off);
	return w;
}

static int shut_wr(struct relay *r)
{
	return shutdown(r->out, SHUT_WR) < 0 && errno != ENOTCONN ? -1 : 0;
}

static int close_out(struct relay *r)
{
	close(r->out);
	return 0;
}

int cmd_netconnect(int argc, char **argv)
{
	static unsigned char up[BUF_SIZE], down[BUF_SIZE];
	unsigned long port;
	char port_s[8];
	int ns, fd, notify;

	if (argc != 2 || parse_ulong(argv[1], 1, 65535, &port) < 0) {
		say("error: usage: crib-io netconnect NETNS_PATH PORT (PORT 1-65535)", NULL);
		return 1;
	}
	fmt_ulong(port, port_s, sizeof(port_s));
	/* fd 3, if cribd opened it (checked before any fd of ours can take the
	 * number): one line once the connection is up, so cribd can tell a
	 * refused port (exit 1) from a quiet peer. */
	notify = fcntl(3, F_GETFD) >= 0 ? 3 : -1;
	ns = open(argv[0], O_RDONLY | O_CLOEXEC);
	if (ns < 0) {
		say("error: open ", argv[0], ": ", strerror(errno), NULL);
		return 1;
	}
	if (setns(ns, CLONE_NEWNET) < 0) {
		say("error: setns ", argv[0], ": ", strerror(errno), NULL);
		return 1;
	}
	close(ns);

	fd = try_connect(AF_INET, (unsigned short)port);
	if (fd < 0) {
		int e = errno;

		if (e == ECONNREFUSED)
			fd = try_connect(AF_INET6, (unsigned short)port);
		if (fd < 0) {
			say("error: connect 127.0.0.1:", port_s, ": ", strerror(e), NULL);
			return 1;
		}
	}
	set_nonblock(fd);
	if (notify >= 0) {
		write_all(notify, "connected\n", 10);
		close(notify);
	}

	struct relay r[2] = {
		{ .in_name = "stdin", .out_name = "socket", .in = STDIN_FILENO, .out = fd,
		  .buf = up, .cap = sizeof(up), .drain = send_up, .finish = shut_wr },
		{ .in_name = "socket", .out_name = "stdout", .in = fd, .out = STDOUT_FILENO,
		  .buf = down, .cap = sizeof(down), .finish = close_out },
	};
	struct relay_error e;
	if (relay_run(r, 2, NULL, NULL, 0, &e) < 0) {
		say("error: ", e.op, " ", e.name, ": ", strerror(e.err), NULL);
		return 1;
	}
	return 0;
}
