/*
 * The poll loop every subcommand shares: copy chunks between fds in several
 * directions at once, with partial writes, EINTR/EAGAIN and half-closes.
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "crib-io.h"

#define MAX_FDS 8

static ssize_t do_fill(struct relay *r)
{
	ssize_t n = r->fill ? r->fill(r) : read(r->in, r->buf, r->cap);

	if (n > 0 && !r->fill)
		r->len = (size_t)n;
	return n;
}

static ssize_t do_drain(struct relay *r)
{
	return r->drain ? r->drain(r) : write(r->out, r->buf + r->off, r->len - r->off);
}

static int fail(struct relay_error *e, const char *op, const char *name)
{
	e->op = op;
	e->name = name;
	e->err = errno;
	return -1;
}

static int retry(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* Writes what it can of the pending chunk. 0, or -1 after an error. */
static int flush(struct relay *r, struct relay_error *e)
{
	while (r->off < r->len) {
		ssize_t w = do_drain(r);

		if (w < 0)
			return retry() ? 0 : fail(e, "write", r->out_name);
		r->off += (size_t)w;
	}
	r->off = r->len = 0;
	return 0;
}

/* The input has ended and nothing is pending: pass the end on once. */
static int end(struct relay *r, struct relay_error *e)
{
	r->done = 1;
	if (r->finish && r->finish(r) < 0)
		return fail(e, "close", r->out_name);
	return 0;
}

int relay_run(struct relay *r, size_t n, struct relay *until,
	      struct relay_extra *x, size_t nx, struct relay_error *e)
{
	struct pollfd p[MAX_FDS];
	struct relay *owner[MAX_FDS];
	struct relay_extra *extra[MAX_FDS];

	if (n + nx > MAX_FDS) {
		errno = EINVAL;
		return fail(e, "poll", "fds");
	}
	for (;;) {
		size_t i, np = 0, live = 0;

		for (i = 0; i < n; i++) {
			if (!r[i].done && r[i].eof && r[i].off >= r[i].len && end(&r[i], e) < 0)
				return -1;
			if (r[i].done)
				continue;
			live++;
			/* Either wait to write the pending chunk, or to read the next. */
			if (r[i].off < r[i].len)
				p[np] = (struct pollfd){ .fd = r[i].out, .events = POLLOUT };
			else
				p[np] = (struct pollfd){ .fd = r[i].in, .events = POLLIN };
			owner[np] = &r[i];
			extra[np++] = NULL;
		}
		if (live == 0 || (until && until->done))
			return 0;
		for (i = 0; i < nx; i++) {
			if (x[i].fd < 0)
				continue;
			p[np] = (struct pollfd){ .fd = x[i].fd, .events = POLLIN };
			owner[np] = NULL;
			extra[np++] = &x[i];
		}

		if (poll(p, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail(e, "poll", "fds");
		}

		for (i = 0; i < np; i++) {
			struct relay *o = owner[i];

			if (!p[i].revents)
				continue;
			if (extra[i]) {
				extra[i]->ready(extra[i]);
				continue;
			}
			if (o->off < o->len) {
				/* POLLERR/POLLHUP too: the write then reports what happened. */
				if (flush(o, e) < 0)
					return -1;
				continue;
			}
			ssize_t got = do_fill(o);
			if (got < 0) {
				if (!retry())
					return fail(e, "read", o->in_name);
			} else if (got == 0) {
				o->eof = 1;
			} else {
				o->off = 0;
				/* Try at once: usually the output can take it. */
				if (flush(o, e) < 0)
					return -1;
			}
		}
	}
}
