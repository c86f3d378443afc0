/*
 * crib-io attach SOCKET
 *
 * Connects to conmon's attach socket (SOCK_SEQPACKET, SOCKET_DIR/CUUID/attach)
 * and relays:
 *   stdin -> one packet per read, at most 32768 bytes (conmon reads packets
 *            into a buffer of that size); stdin's end -> shutdown(SHUT_WR),
 *            on which conmon closes the container's stdin if it was started
 *            with --stdin and without --leave-stdin-open.
 *   socket -> stdout, each packet [pipe byte][data] written as a frame
 *            [stream: 1 stdout, 2 stderr][4-byte big-endian length][data].
 * Exits 0 when conmon closes the socket (the container has exited), 1 after
 * an error, with one line on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "crib-io.h"

/* conmon's CONN_SOCK_BUF_SIZE: it reads attach packets with read(fd, buf, 32768). */
#define MAX_IN_PACKET 32768
/* conmon sends [pipe][up to STDIO_BUF_SIZE = 8192 bytes]; room to spare. */
#define MAX_OUT_PACKET 65536
#define FRAME_HEADER 5

/* conmon's stdpipe_t: NO_PIPE 0, STDIN_PIPE 1 (unused), STDOUT_PIPE 2, STDERR_PIPE 3. */
#define CONMON_STDOUT 2
#define CONMON_STDERR 3

static const char *sock_path;

/*
 * Sends the chunk as one packet: all of it or nothing. Once conmon has closed
 * the socket the input is dropped; reading the socket then reports the end.
 */
static ssize_t send_packet(struct relay *r)
{
	ssize_t w = send(r->out, r->buf + r->off, r->len - r->off, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
		return (ssize_t)(r->len - r->off);
	return w;
}

static int shut_wr(struct relay *r)
{
	return shutdown(r->out, SHUT_WR) < 0 && errno != ENOTCONN ? -1 : 0;
}

/* Receives one packet and turns it into a frame. */
static ssize_t recv_frame(struct relay *r)
{
	/* The packet lands at buf + 4 so that its pipe byte is overwritten by the header's last length byte. */
	ssize_t n = recv(r->in, r->buf + FRAME_HEADER - 1, r->cap - (FRAME_HEADER - 1), MSG_DONTWAIT | MSG_TRUNC);
	unsigned char stream;
	uint32_t len;

	if (n <= 0)
		return n;
	if ((size_t)n > r->cap - (FRAME_HEADER - 1)) {
		errno = EMSGSIZE;
		return -1;
	}
	switch (r->buf[FRAME_HEADER - 1]) {
	case CONMON_STDOUT:
		stream = 1;
		break;
	case CONMON_STDERR:
		stream = 2;
		break;
	default:
		errno = EPROTO;
		return -1;
	}
	len = (uint32_t)n - 1;
	r->buf[0] = stream;
	r->buf[1] = (unsigned char)(len >> 24);
	r->buf[2] = (unsigned char)(len >> 16);
	r->buf[3] = (unsigned char)(len >> 8);
	r->buf[4] = (unsigned char)len;
	r->len = FRAME_HEADER + len;
	return (ssize_t)r->len;
}

static int connect_seqpacket(const char *path)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int dir = -1, rc;

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	if (strlen(path) < sizeof(a.sun_path)) {
		strcpy(a.sun_path, path);
	} else {
		/* Too long for sun_path: reach it through its directory, as conmon binds it. */
		const char *slash = strrchr(path, '/');
		char dname[4096];

		if (!slash || (size_t)(slash - path) >= sizeof(dname)) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(dname, path, (size_t)(slash - path));
		dname[slash - path] = '\0';
		dir = open(slash == path ? "/" : dname, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dir < 0)
			goto fail;
		char num[24];

		fmt_ulong((unsigned long)dir, num, sizeof(num));
		if (strlen("/proc/self/fd//") + strlen(num) + strlen(slash + 1) >= sizeof(a.sun_path)) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		strcpy(a.sun_path, "/proc/self/fd/");
		strcat(a.sun_path, num);
		strcat(a.sun_path, "/");
		strcat(a.sun_path, slash + 1);
	}
	do {
		rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	} while (rc < 0 && errno == EINTR);
	if (rc < 0)
		goto fail;
	if (dir >= 0)
		close(dir);
	return fd;
fail:
	rc = errno;
	close(fd);
	if (dir >= 0)
		close(dir);
	errno = rc;
	return -1;
}

int cmd_attach(int argc, char **argv)
{
	static unsigned char in_buf[MAX_IN_PACKET], out_buf[FRAME_HEADER - 1 + MAX_OUT_PACKET];
	int fd;

	if (argc != 1 || argv[0][0] == '\0') {
		say("usage: crib-io attach SOCKET", NULL);
		return 2;
	}
	sock_path = argv[0];
	fd = connect_seqpacket(sock_path);
	if (fd < 0) {
		say("crib-io: attach: connect ", sock_path, ": ", strerror(errno), NULL);
		return 1;
	}
	set_nonblock(fd);

	struct relay r[2] = {
		{ .in_name = "stdin", .out_name = "socket", .in = STDIN_FILENO, .out = fd,
		  .buf = in_buf, .cap = sizeof(in_buf), .drain = send_packet, .finish = shut_wr },
		{ .in_name = "socket", .out_name = "stdout", .in = fd, .out = STDOUT_FILENO,
		  .buf = out_buf, .cap = sizeof(out_buf), .fill = recv_frame },
	};
	struct relay_error e;
	/* Done when conmon closes the socket; stdin may stay open. */
	if (relay_run(r, 2, &r[1], NULL, 0, &e) < 0) {
		say("crib-io: attach: ", e.op, " ", e.name, ": ", strerror(e.err), NULL);
		return 1;
	}
	return 0;
}
