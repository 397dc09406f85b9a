#include "sidechannel.h"
#include "config.h"
#include "exitcode.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void ac_side_msg_release(struct ac_side_msg *msg)
{
	free(msg->checkpoint);
	free(msg->usage);
	free(msg->log);
	msg->checkpoint = msg->usage = msg->log = NULL;
	msg->progress = msg->retry_after = msg->snooze = -1;
	msg->retry_key = 0;
}

/* A number of seconds to wait: 0 to AC_SIDE_MAX_WAIT_S. */
static int wait_seconds(json_t *v, const char *name, double *out,
			struct ac_error *err)
{
	double s = json_number_value(v);

	if (!json_is_number(v) || s < 0 || s > AC_SIDE_MAX_WAIT_S)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "\"%s\" wants seconds, from 0 to %d", name,
				    AC_SIDE_MAX_WAIT_S);
	*out = s;
	return 0;
}

json_t *ac_json_object_line(const char *line, size_t len, const char *what,
			    struct ac_error *err)
{
	json_error_t jerr;
	json_t *obj;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	obj = json_loadb(line, len, 0, &jerr);
	if (!json_is_object(obj)) {
		ac_error_set(err, AC_EXIT_USAGE, "%s is not a JSON object: %s",
			     what, obj ? "another JSON value" : jerr.text);
		json_decref(obj);
		return NULL;
	}
	return obj;
}

int ac_side_parse(const char *line, size_t len, struct ac_side_msg *msg,
		  struct ac_error *err)
{
	json_t *obj;
	int rc;

	memset(msg, 0, sizeof *msg);
	msg->progress = msg->retry_after = msg->snooze = -1;
	obj = ac_json_object_line(line, len, "side-channel line", err);
	if (!obj)
		return -1;
	rc = ac_side_from_json(obj, msg, err);
	json_decref(obj);
	return rc;
}

int ac_side_from_json(json_t *obj, struct ac_side_msg *msg,
		      struct ac_error *err)
{
	json_t *v;

	memset(msg, 0, sizeof *msg);
	msg->progress = msg->retry_after = msg->snooze = -1;
	if ((v = json_object_get(obj, "checkpoint"))) {
		msg->checkpoint = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!msg->checkpoint)
			goto oom;
		if (strlen(msg->checkpoint) > AC_MAX_PAYLOAD) {
			ac_error_set(err, AC_EXIT_USAGE,
				     "checkpoint exceeds the limit of %u bytes",
				     AC_MAX_PAYLOAD);
			goto fail;
		}
	}
	if ((v = json_object_get(obj, "progress"))) {
		double p = json_number_value(v);

		if (!json_is_number(v) || p < 0 || p > 1) {
			ac_error_set(err, AC_EXIT_USAGE,
				     "\"progress\" wants a number from 0 to 1");
			goto fail;
		}
		msg->progress = p;
	}
	if ((v = json_object_get(obj, "usage"))) {
		if (!json_is_object(v)) {
			ac_error_set(err, AC_EXIT_USAGE,
				     "\"usage\" wants an object of counters");
			goto fail;
		}
		msg->usage = json_dumps(v, JSON_COMPACT);
		if (!msg->usage)
			goto oom;
	}
	if ((v = json_object_get(obj, "log"))) {
		if (!json_is_string(v)) {
			ac_error_set(err, AC_EXIT_USAGE, "\"log\" wants a string");
			goto fail;
		}
		msg->log = ac_strdup(json_string_value(v));
		if (!msg->log)
			goto oom;
	}
	if ((v = json_object_get(obj, "retry_after")) &&
	    wait_seconds(v, "retry_after", &msg->retry_after, err) < 0)
		goto fail;
	if ((v = json_object_get(obj, "scope"))) {
		const char *scope = json_string_value(v);

		if (!scope || (strcmp(scope, "type") && strcmp(scope, "key"))) {
			ac_error_set(err, AC_EXIT_USAGE,
				     "\"scope\" wants \"type\" or \"key\"");
			goto fail;
		}
		msg->retry_key = !strcmp(scope, "key");
	}
	if ((v = json_object_get(obj, "snooze")) &&
	    wait_seconds(v, "snooze", &msg->snooze, err) < 0)
		goto fail;
	return 0;
oom:
	ac_error_set(err, AC_EXIT_FAILED, "out of memory");
fail:
	ac_side_msg_release(msg);
	return -1;
}
