#include "stream.h"
#include "config.h"
#include "exitcode.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* JSON text as one line: as it is when it holds no newline (the usual
 * case: the store keeps compact JSON), else re-encoded compactly. */
static int append_json_line(struct ac_buf *out, const char *text, size_t len,
			    struct ac_error *err)
{
	json_t *v;
	char *compact;
	int rc;

	if (!memchr(text, '\n', len) && !memchr(text, '\r', len))
		return ac_buf_append(out, text, len) < 0 ?
			ac_error_set(err, AC_EXIT_FAILED, "out of memory") : 0;
	v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
	compact = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(v);
	if (!compact)
		return ac_error_set(err, AC_EXIT_FAILED,
				    "task data is not JSON the handler can read");
	rc = ac_buf_append(out, compact, strlen(compact));
	free(compact);
	return rc < 0 ? ac_error_set(err, AC_EXIT_FAILED, "out of memory") : 0;
}

int ac_stream_task_line(struct ac_buf *out, const struct ac_claimed *task,
			const char *traceparent, struct ac_error *err)
{
	/* Task types are names ([A-Za-z0-9_.:@-]): no escaping needed. */
	if (ac_buf_printf(out, "{\"id\":%lld,\"type\":\"%s\",\"attempt\":%d,\"data\":",
			  (long long)task->id, task->type, task->attempt) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (append_json_line(out, task->data ? task->data : "null",
			     task->data ? task->data_len : 4, err) < 0)
		return -1;
	if (ac_buf_append(out, ",\"checkpoint\":", 14) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (append_json_line(out, task->checkpoint ? task->checkpoint : "null",
			     task->checkpoint ? strlen(task->checkpoint) : 4,
			     err) < 0)
		return -1;
	/* The tasks it waited for (--after): what AC_PARENTS names in exec
	 * mode. */
	if (task->parents) {
		if (ac_buf_append(out, ",\"parents\":", 11) < 0)
			return ac_error_set(err, AC_EXIT_FAILED,
					    "out of memory");
		if (append_json_line(out, task->parents,
				     strlen(task->parents), err) < 0)
			return -1;
	}
	/* What TRACEPARENT holds in exec mode; hex digits and dashes only. */
	if (traceparent &&
	    ac_buf_printf(out, ",\"traceparent\":\"%s\"", traceparent) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (ac_buf_append(out, "}\n", 2) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	return 0;
}

void ac_stream_reply_release(struct ac_stream_reply *r)
{
	free(r->result);
	free(r->error);
	ac_side_msg_release(&r->side);
	r->result = r->error = NULL;
	r->ends = r->has_side = 0;
}

int ac_stream_parse(const char *line, size_t len, struct ac_stream_reply *r,
		    struct ac_error *err)
{
	json_t *obj, *id, *result, *error;

	memset(r, 0, sizeof *r);
	r->side.progress = -1;
	obj = ac_json_object_line(line, len, "a stream handler's line", err);
	if (!obj)
		return -1;
	id = json_object_get(obj, "id");
	result = json_object_get(obj, "result");
	error = json_object_get(obj, "error");
	if (!json_is_integer(id)) {
		ac_error_set(err, AC_EXIT_USAGE,
			     "a stream handler's line needs the task's integer \"id\"");
		goto fail;
	}
	r->id = json_integer_value(id);
	if (result && error) {
		ac_error_set(err, AC_EXIT_USAGE,
			     "a stream handler's line has both \"result\" and \"error\"");
		goto fail;
	}
	if (result) {
		r->result = json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!r->result)
			goto oom;
		if (strlen(r->result) > AC_MAX_PAYLOAD) {
			ac_error_set(err, AC_EXIT_USAGE,
				     "result exceeds the limit of %u bytes",
				     AC_MAX_PAYLOAD);
			goto fail;
		}
		r->ends = 1;
	} else if (error) {
		/* Text as it is; any other value as its JSON. */
		r->error = json_is_string(error) ?
			ac_strdup(json_string_value(error)) :
			json_dumps(error, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!r->error)
			goto oom;
		r->ends = 1;
	}
	r->has_side = json_object_get(obj, "checkpoint") ||
		      json_object_get(obj, "progress") ||
		      json_object_get(obj, "usage") ||
		      json_object_get(obj, "log") ||
		      json_object_get(obj, "retry_after") ||
		      json_object_get(obj, "snooze");
	if (r->has_side && ac_side_from_json(obj, &r->side, err) < 0)
		goto fail;
	json_decref(obj);
	return 0;
oom:
	ac_error_set(err, AC_EXIT_FAILED, "out of memory");
fail:
	json_decref(obj);
	ac_stream_reply_release(r);
	return -1;
}
