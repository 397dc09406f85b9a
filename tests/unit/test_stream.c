/* Unit tests of lib/stream.c: the task line a stream handler reads and the
 * reply lines it writes.  TAP-like output; exit 1 on any failure. */
#include "config.h"
#include "error.h"
#include "sidechannel.h"
#include "stream.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_no, failures;

static void check(int ok, const char *name)
{
	test_no++;
	printf("%sok %d - %s\n", ok ? "" : "not ", test_no, name);
	if (!ok)
		failures++;
}

static void test_task_line(void)
{
	struct ac_claimed t = { .id = 17, .type = "noop", .attempt = 2 };
	struct ac_buf out = { 0 };
	struct ac_error err;
	json_t *line;

	t.data = "{\"a\":[1,2]}";
	t.data_len = strlen(t.data);
	check(ac_stream_task_line(&out, &t, NULL, &err) == 0, "task line formats");
	check(out.len > 0 && out.data[out.len - 1] == '\n' &&
	      !memchr(out.data, '\n', out.len - 1), "one line, newline-ended");
	line = json_loadb(out.data, out.len, 0, NULL);
	check(json_integer_value(json_object_get(line, "id")) == 17 &&
	      !strcmp(json_string_value(json_object_get(line, "type")), "noop") &&
	      json_integer_value(json_object_get(line, "attempt")) == 2 &&
	      json_is_null(json_object_get(line, "checkpoint")),
	      "id, type, attempt, null checkpoint");
	check(json_integer_value(json_array_get(json_object_get(
		json_object_get(line, "data"), "a"), 1)) == 2, "data embedded");
	json_decref(line);

	/* Data with a raw newline (not from ac-submit, which stores compact
	 * JSON) still makes one line. */
	ac_buf_reset(&out);
	t.data = "{\"a\":\n 1}";
	t.data_len = strlen(t.data);
	t.checkpoint = "{\"step\":\n3}";
	check(ac_stream_task_line(&out, &t, NULL, &err) == 0 &&
	      !memchr(out.data, '\n', out.len - 1), "newlines re-encoded away");
	line = json_loadb(out.data, out.len, 0, NULL);
	check(json_integer_value(json_object_get(json_object_get(line,
		"checkpoint"), "step")) == 3, "checkpoint embedded");
	json_decref(line);

	/* The trace context goes as "traceparent", only when there is one. */
	check(!strstr(out.data, "traceparent"), "no traceparent key without one");
	ac_buf_reset(&out);
	check(ac_stream_task_line(&out, &t,
				  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
				  &err) == 0, "task line with a traceparent");
	line = json_loadb(out.data, out.len, 0, NULL);
	check(!strcmp(json_string_value(json_object_get(line, "traceparent")) ?
		      json_string_value(json_object_get(line, "traceparent")) : "",
		      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
	      "its traceparent key");
	json_decref(line);
	ac_buf_release(&out);
}

static int parse_fails(const char *line)
{
	struct ac_stream_reply r;
	struct ac_error err;

	return ac_stream_parse(line, strlen(line), &r, &err) == -1 &&
	       err.msg[0] && !r.result && !r.error;
}

static void test_parse(void)
{
	struct ac_stream_reply r;
	struct ac_error err;
	const char *line;

	line = "{\"id\":5,\"result\":{\"x\": 1}}\r";
	check(ac_stream_parse(line, strlen(line), &r, &err) == 0 && r.id == 5 &&
	      r.ends && r.result && !strcmp(r.result, "{\"x\":1}") &&
	      !r.error && !r.has_side, "result line, compacted");
	ac_stream_reply_release(&r);

	line = "{\"id\":5,\"result\":null}";
	check(ac_stream_parse(line, strlen(line), &r, &err) == 0 && r.ends &&
	      r.result && !strcmp(r.result, "null"), "a null result completes");
	ac_stream_reply_release(&r);

	line = "{\"id\":6,\"error\":\"no text\"}";
	check(ac_stream_parse(line, strlen(line), &r, &err) == 0 && r.ends &&
	      !r.result && r.error && !strcmp(r.error, "no text"), "error line");
	ac_stream_reply_release(&r);

	line = "{\"id\":6,\"error\":{\"code\":3}}";
	check(ac_stream_parse(line, strlen(line), &r, &err) == 0 && r.error &&
	      !strcmp(r.error, "{\"code\":3}"), "an error that is not text is kept as JSON");
	ac_stream_reply_release(&r);

	line = "{\"id\":7,\"progress\":0.5,\"log\":\"half\"}";
	check(ac_stream_parse(line, strlen(line), &r, &err) == 0 && !r.ends &&
	      r.has_side && r.side.progress == 0.5 && r.side.log &&
	      !strcmp(r.side.log, "half"), "side-channel line");
	ac_stream_reply_release(&r);

	line = "{\"id\":8,\"result\":1,\"usage\":{\"tokens\":3}}";
	check(ac_stream_parse(line, strlen(line), &r, &err) == 0 && r.ends &&
	      r.has_side && r.side.usage, "side keys beside the result");
	ac_stream_reply_release(&r);

	check(parse_fails("not json"), "not JSON: error");
	check(parse_fails("[1]"), "not an object: error");
	check(parse_fails("{\"result\":1}"), "no id: error");
	check(parse_fails("{\"id\":\"5\",\"result\":1}"), "a string id: error");
	check(parse_fails("{\"id\":5,\"result\":1,\"error\":\"x\"}"),
	      "result and error: error");
	check(parse_fails("{\"id\":5,\"progress\":3}"), "progress out of range: error");
	check(parse_fails("{\"id\":5,\"usage\":7}"), "usage not an object: error");
}

static void test_oversized(void)
{
	size_t n = AC_MAX_PAYLOAD + 64;
	char *line = malloc(n + 64);
	struct ac_stream_reply r;
	struct ac_error err;
	size_t len;

	if (!line) {
		check(0, "allocating an oversized line");
		return;
	}
	len = (size_t)snprintf(line, 64, "{\"id\":1,\"result\":\"");
	memset(line + len, 'a', n);
	len += n;
	memcpy(line + len, "\"}", 3);
	len += 2;
	check(ac_stream_parse(line, len, &r, &err) == -1 &&
	      strstr(err.msg, "exceeds"), "a result over the limit is refused");
	free(line);
}

/* The flow-control keys of the side channel (fd 3 and reply lines). */
static void test_side_waits(void)
{
	struct ac_side_msg m;
	struct ac_error err;
	struct ac_stream_reply r;
	static const char *const bad[] = {
		"{\"retry_after\":-1}", "{\"retry_after\":\"30\"}",
		"{\"retry_after\":604801}", "{\"snooze\":-0.5}",
		"{\"snooze\":null}", "{\"retry_after\":3,\"scope\":\"host\"}",
		"{\"retry_after\":3,\"scope\":1}",
	};
	int ok = 1;

	check(ac_side_parse("{\"retry_after\":30}", strlen("{\"retry_after\":30}"), &m, &err) == 0 &&
	      m.retry_after == 30 && !m.retry_key && m.snooze < 0,
	      "side: retry_after, the type by default");
	ac_side_msg_release(&m);
	check(ac_side_parse("{\"retry_after\":1.5,\"scope\":\"key\"}", strlen("{\"retry_after\":1.5,\"scope\":\"key\"}"), &m,
			    &err) == 0 && m.retry_after == 1.5 && m.retry_key,
	      "side: retry_after with scope key");
	ac_side_msg_release(&m);
	check(ac_side_parse("{\"snooze\":60}", strlen("{\"snooze\":60}"), &m, &err) == 0 &&
	      m.snooze == 60 && m.retry_after < 0, "side: snooze");
	ac_side_msg_release(&m);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int rc = ac_side_parse(bad[i], strlen(bad[i]), &m, &err);

		ok &= rc < 0 && err.exit_code == 2 && m.retry_after < 0 &&
			m.snooze < 0;
		if (rc == 0)
			ac_side_msg_release(&m);
	}
	check(ok, "side: a wait that is not 0 to a week of seconds, or a bad scope, is refused");
	check(ac_stream_parse("{\"id\":4,\"snooze\":2}", strlen("{\"id\":4,\"snooze\":2}"), &r, &err) == 0 &&
	      r.id == 4 && r.has_side && r.side.snooze == 2 && !r.ends,
	      "stream: a snooze rides on a reply line");
	ac_stream_reply_release(&r);
}

int main(void)
{
	test_task_line();
	test_side_waits();
	test_parse();
	test_oversized();
	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
