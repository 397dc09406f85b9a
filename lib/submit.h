/* Submitting tasks and waiting for them: input checks and the wait loop
 * behind ac-submit.  What to print is the caller's: results reach it
 * through a sink, in input order. */
#ifndef AC_SUBMIT_H
#define AC_SUBMIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

/* Check that text (len bytes) is one JSON value within the payload limit.
 * On success *compact is a new malloc'd compact rendering of it. */
int ac_submit_parse_data(const char *text, size_t len, char **compact,
			 struct ac_error *err);

struct ac_submit_sink {
	void *ctx;
	/* Task index (input order) has ended; task is its record (borrowed). */
	void (*ended)(void *ctx, size_t index, json_t *task);
	/* done of total have ended (called when done changes). */
	void (*progress)(void *ctx, size_t done, size_t total);
	/* One-off notices, such as "no live worker handles TYPE". */
	void (*notice)(void *ctx, const char *text);
};

/* Wait until the n tasks have ended, reporting each in order.  timeout_ms
 * <= 0 waits for ever.  Returns 0 when all ended, 1 when the wait ran out,
 * -1 with err. */
int ac_submit_wait(struct ac_store *store, const int64_t *ids, size_t n,
		   const char *type, int64_t timeout_ms,
		   const struct ac_submit_sink *sink, struct ac_error *err);

#endif
