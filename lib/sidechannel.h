/* The handler's side channel (fd 3): one JSON object per line, e.g.
 * {"checkpoint":{...}}, {"progress":0.4}, {"usage":{"tokens":812}},
 * {"log":"..."}, {"retry_after":30,"scope":"type"|"key"} (with exit 75),
 * {"snooze":60}.  Several keys may share a line.  This file only parses;
 * the worker does the I/O and the store writes. */
#ifndef AC_SIDECHANNEL_H
#define AC_SIDECHANNEL_H

#include <stddef.h>

#include "error.h"

struct ac_side_msg {
	char *checkpoint;   /* compact JSON, or NULL */
	double progress;    /* 0..1, or < 0 when absent */
	char *usage;        /* compact JSON object, or NULL */
	char *log;          /* or NULL */
	double retry_after; /* seconds an upstream asked to wait (with exit
			     * 75), or < 0 when absent */
	int retry_key;      /* "scope":"key": hold the task's route key
			     * rather than its type */
	double snooze;      /* seconds to put the task back for, or < 0 */
};

/* The longest retry_after or snooze taken: a week. */
#define AC_SIDE_MAX_WAIT_S (7 * 24 * 3600)

/* Parse one line (without its newline).  On success the caller owns the
 * strings of msg and frees them with ac_side_msg_release().  A line that is
 * not a JSON object, or whose values have the wrong types, is an error
 * (exit code 2) and msg is left empty. */
int ac_side_parse(const char *line, size_t len, struct ac_side_msg *msg,
		  struct ac_error *err);
void ac_side_msg_release(struct ac_side_msg *msg);

/* The same from an object already parsed (borrowed): stream handlers put
 * side-channel keys in their reply lines. */
#include <jansson.h>
int ac_side_from_json(json_t *obj, struct ac_side_msg *msg,
		      struct ac_error *err);

/* One line a handler wrote (len bytes, trailing '\r' and blanks ignored)
 * as a JSON object: a new reference, or NULL with err (exit code 2,
 * "WHAT is not a JSON object: ...").  Shared by the side channel and
 * stream mode. */
json_t *ac_json_object_line(const char *line, size_t len, const char *what,
			    struct ac_error *err);

#endif
