/* A batch of tasks from JSON Lines, held compactly (see batch.h). */
#include "batch.h"
#include "config.h"
#include "exitcode.h"
#include "submit.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Compact data is kept in blocks of at least this size, each line's NUL
 * terminated (compact JSON has no NUL byte of its own: json_dumps writes
 * it as \u0000), so that a walk from the start finds every line. */
#define BLOCK_MIN (1024 * 1024)
#define READ_SIZE 65536
/* The longest line looked at: longer ones are refused by
 * ac_submit_parse_data() anyway, and are not held whole first. */
#define LINE_MAX_BYTES (2 * (size_t)AC_MAX_PAYLOAD)

struct block {
	struct block *next;
	size_t used, cap;
	char data[];
};

struct ac_batch {
	struct block *first, *last;
	size_t count;
};

void ac_batch_free(struct ac_batch *batch)
{
	struct block *b, *next;

	if (!batch)
		return;
	for (b = batch->first; b; b = next) {
		next = b->next;
		free(b);
	}
	free(batch);
}

size_t ac_batch_count(const struct ac_batch *batch)
{
	return batch->count;
}

static int keep(struct ac_batch *batch, const char *data, size_t len)
{
	struct block *b = batch->last;

	if (!b || b->cap - b->used < len + 1) {
		size_t cap = len + 1 > BLOCK_MIN ? len + 1 : BLOCK_MIN;

		b = malloc(sizeof *b + cap);
		if (!b)
			return -1;
		b->next = NULL;
		b->used = 0;
		b->cap = cap;
		if (batch->last)
			batch->last->next = b;
		else
			batch->first = b;
		batch->last = b;
	}
	memcpy(b->data + b->used, data, len + 1);
	b->used += len + 1;
	return 0;
}

/* One line (len bytes, without its newline): checked, made compact and
 * kept, or refused with its number. */
static int take_line(struct ac_batch *batch, const char *text, size_t len,
		     size_t lineno, struct ac_error *err)
{
	char *data;
	int rc;

	if (len == 0 || (len == 1 && text[0] == '\r'))
		return ac_error_set(err, AC_EXIT_USAGE,
				    "line %zu: empty line (one JSON value per line)",
				    lineno);
	if (ac_submit_parse_data(text, len, &data, err) < 0)
		return ac_error_prefix(err, "line %zu", lineno);
	rc = keep(batch, data, strlen(data));
	free(data);
	if (rc < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	batch->count++;
	return 0;
}

int ac_batch_read(int fd, struct ac_batch **out, struct ac_error *err)
{
	struct ac_batch *batch = calloc(1, sizeof *batch);
	struct ac_buf line = { 0 };   /* a line that spans reads */
	size_t lineno = 0;
	char *buf = malloc(READ_SIZE);

	if (!batch || !buf) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto fail;
	}
	for (;;) {
		ssize_t got = read(fd, buf, READ_SIZE);
		const char *p = buf, *end;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			ac_error_set(err, AC_EXIT_FAILED,
				     "cannot read the input: %s", strerror(errno));
			goto fail;
		}
		if (got == 0)
			break;
		for (end = buf + got; p < end; ) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t take = (size_t)((nl ? nl : end) - p);

			if (line.len + take > LINE_MAX_BYTES) {
				ac_error_set(err, AC_EXIT_USAGE,
					     "line %zu: task data exceeds the limit of %u bytes",
					     lineno + 1, AC_MAX_PAYLOAD);
				goto fail;
			}
			if (!nl) {
				if (ac_buf_append(&line, p, take) < 0) {
					ac_error_set(err, AC_EXIT_FAILED,
						     "out of memory");
					goto fail;
				}
				break;
			}
			lineno++;
			/* A whole line inside this read is parsed in place. */
			if (line.len == 0) {
				if (take_line(batch, p, take, lineno, err) < 0)
					goto fail;
			} else if (ac_buf_append(&line, p, take) < 0) {
				ac_error_set(err, AC_EXIT_FAILED, "out of memory");
				goto fail;
			} else {
				if (take_line(batch, line.data, line.len, lineno,
					      err) < 0)
					goto fail;
				ac_buf_reset(&line);
			}
			p = nl + 1;
		}
	}
	/* The last line may have no newline. */
	if (line.len > 0 &&
	    take_line(batch, line.data, line.len, ++lineno, err) < 0)
		goto fail;
	if (batch->count == 0) {
		ac_error_set(err, AC_EXIT_USAGE, "no tasks in the input");
		goto fail;
	}
	ac_buf_release(&line);
	free(buf);
	*out = batch;
	return 0;
fail:
	ac_buf_release(&line);
	free(buf);
	ac_batch_free(batch);
	return -1;
}

/* Where a submit is: the store asks for specs a chunk at a time. */
struct cursor {
	const struct ac_batch *batch;
	const struct ac_task_spec *tmpl;
	const struct ac_task_spec *routed;   /* every task's, when routed */
	const struct block *block;
	size_t offset;
	size_t handed;                       /* tasks given to the store */
	size_t stored;                       /* ids received */
	int64_t *ids;
};

static size_t next_specs(void *ctx, struct ac_task_spec *specs, size_t max)
{
	struct cursor *c = ctx;
	size_t n = 0;

	while (n < max && c->handed < c->batch->count) {
		const char *data;
		size_t len;

		while (c->offset >= c->block->used) {
			c->block = c->block->next;
			c->offset = 0;
		}
		data = c->block->data + c->offset;
		len = strlen(data);
		specs[n] = c->routed ? c->routed[c->handed] : *c->tmpl;
		specs[n].data = data;
		specs[n].data_len = len;
		c->offset += len + 1;
		c->handed++;
		n++;
	}
	return n;
}

static void stored_ids(void *ctx, const struct ac_submitted *out, size_t n)
{
	struct cursor *c = ctx;

	for (size_t i = 0; i < n && c->stored < c->batch->count; i++)
		c->ids[c->stored++] = out[i].id;
}

int ac_batch_submit(struct ac_batch *batch, struct ac_store *store,
		    const struct ac_task_spec *tmpl, enum ac_route route,
		    int64_t *ids, struct ac_batch_spec *spec,
		    struct ac_error *err)
{
	struct cursor c = {
		.batch = batch, .tmpl = tmpl, .block = batch->first,
		.ids = ids,
	};
	struct ac_task_spec *routed = NULL;
	json_t *holder = NULL;
	int rc;

	/* Routing picks a worker for each task from the whole batch at once
	 * (round-robin takes its place in the rotation for all of them), so
	 * a routed batch has every spec made first. */
	if (route != AC_ROUTE_ANY) {
		routed = malloc(batch->count * sizeof *routed);
		if (!routed)
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		for (size_t i = 0; i < batch->count; i++)
			routed[i] = *tmpl;
		if (ac_submit_route(store, route, routed, batch->count,
				    &holder, err) < 0) {
			free(routed);
			return -1;
		}
		c.routed = routed;
	}
	rc = store->ops->submit_many(store, next_specs, stored_ids, &c, spec,
				     err);
	if (rc == 0 && c.stored != batch->count)
		rc = ac_error_set(err, AC_EXIT_FAILED,
				  "the store gave ids for %zu of %zu tasks",
				  c.stored, batch->count);
	json_decref(holder);
	free(routed);
	return rc;
}
