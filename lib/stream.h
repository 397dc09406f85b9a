/* Stream mode's wire format (DESIGN.md, "Handler protocol"): the line a
 * long-lived handler reads on stdin for each task, and the lines it writes
 * back on stdout.  Only formatting and parsing live here; the worker does
 * the I/O.
 *
 *   in:  {"id":17,"type":"noop","attempt":1,"data":{...},"checkpoint":null}
 *        (and "parents", "traceparent" when the task has them)
 *   out: {"id":17,"result":{...}}            the task completed
 *        {"id":17,"error":"text"}            the attempt failed
 *        {"id":17,"progress":0.5}            side-channel keys (checkpoint,
 *                                            progress, usage, log), alone or
 *                                            beside "result"/"error" */
#ifndef AC_STREAM_H
#define AC_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sidechannel.h"
#include "store.h"
#include "util.h"

struct ac_stream_reply {
	int64_t id;
	int ends;                 /* 1: "result" or "error" ends the attempt */
	char *result;             /* compact JSON when it completed, else NULL */
	char *error;              /* text when it failed, else NULL */
	int has_side;             /* side-channel keys are present */
	struct ac_side_msg side;  /* their values */
};

/* Append the task's line (with its newline) to out.  The data and the
 * checkpoint are stored as compact JSON already; should one hold a raw
 * newline after all, it is re-encoded so the line stays one line.
 * traceparent: the handler's "traceparent" key (what TRACEPARENT is in
 * exec mode), a header as ac_traceparent_format() writes it, or NULL for
 * none.  0, or -1 with err. */
int ac_stream_task_line(struct ac_buf *out, const struct ac_claimed *task,
			const char *traceparent, struct ac_error *err);

/* Parse one line the handler wrote (without its newline).  On success the
 * caller owns r's strings (ac_stream_reply_release).  A line that is not a
 * JSON object, lacks an integer "id", carries both "result" and "error",
 * or has side-channel values of the wrong type is an error (exit code 2),
 * r left empty. */
int ac_stream_parse(const char *line, size_t len, struct ac_stream_reply *r,
		    struct ac_error *err);
void ac_stream_reply_release(struct ac_stream_reply *r);

#endif
