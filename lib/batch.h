/* A batch of tasks from JSON Lines (ac-submit --batch), held compactly
 * between reading and submitting.
 *
 * All the input is read and checked before the store is touched, so that
 * bad input changes nothing (not even creates a store) and the one write
 * transaction lasts as long as the inserts, not as long as whatever feeds
 * the pipe.  What is held meanwhile is each line's compact JSON, back to
 * back in large blocks: about the size of the input, instead of a task
 * spec, an allocation and a copy for every line (a million short lines
 * took 232 MiB that way, 13 times the input).  The specs are made a chunk
 * at a time as the store takes them. */
#ifndef AC_BATCH_H
#define AC_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "route.h"
#include "store.h"

struct ac_batch;

/* Read fd to its end: one JSON value per line, each within the payload
 * limit.  On success *out is a new batch of at least one task (free it
 * with ac_batch_free()).  Bad input: -1 with err "line N: ..." (exit 2);
 * a read error or no memory: -1, exit 1. */
int ac_batch_read(int fd, struct ac_batch **out, struct ac_error *err);

size_t ac_batch_count(const struct ac_batch *batch);

/* Submit every task of the batch in one transaction: each is a copy of
 * tmpl (type, priority, options; its data and data_len are ignored) with
 * its own line as data, routed by route.  ids (ac_batch_count() of them)
 * get the ids in input order.  spec (or NULL) records the batch, with its
 * continuation, and gets the batch's id.  0, or -1 with err; nothing is
 * stored then. */
int ac_batch_submit(struct ac_batch *batch, struct ac_store *store,
		    const struct ac_task_spec *tmpl, enum ac_route route,
		    int64_t *ids, struct ac_batch_spec *spec,
		    struct ac_error *err);

void ac_batch_free(struct ac_batch *batch);

#endif
