/* Example stream handler in C: ac-worker --stream noop=build/examples/stream-noop
 *
 * Stream mode keeps this process running for many tasks: each task comes
 * as one JSON line on stdin, {"id":..,"type":..,"attempt":..,"data":..,
 * "checkpoint":..}, and the answer is one JSON line on stdout,
 * {"id":..,"result":..} or {"id":..,"error":".."}.  Every answer must be
 * flushed at once: the worker waits for it.  At end of input, exit.
 *
 * This one does no work: it answers {"ok":1,"id":<data.id>,"t0":<data.t0>,
 * "t1":<now>} (seconds since the epoch), the "noop" of the benchmarks, so
 * that t1 - t0 is the time from submit to handler. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static double now_seconds(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Answer one task line; 0, or -1 when stdout is gone. */
static int answer(const char *line, size_t len)
{
	json_error_t jerr;
	json_t *task = json_loadb(line, len, 0, &jerr), *data, *reply;
	char *text;
	int rc;

	if (!json_is_object(task) ||
	    !json_is_integer(json_object_get(task, "id"))) {
		/* Without an id there is no one to answer: say why on
		 * stderr (the worker keeps the tail for the task's error). */
		fprintf(stderr, "noop: not a task line: %s\n",
			task ? "no integer id" : jerr.text);
		json_decref(task);
		return 0;
	}
	data = json_object_get(task, "data");
	reply = json_pack("{s:O,s:{s:i,s:O?,s:O?,s:f}}",
			  "id", json_object_get(task, "id"),
			  "result", "ok", 1,
			  "id", json_object_get(data, "id"),
			  "t0", json_object_get(data, "t0"),
			  "t1", now_seconds());
	json_decref(task);
	text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	json_decref(reply);
	if (!text)
		return fputs("noop: out of memory\n", stderr) < 0 ? -1 : 0;
	rc = printf("%s\n", text) < 0 || fflush(stdout) != 0 ? -1 : 0;
	free(text);
	return rc;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (answer(line, (size_t)len) < 0)
			break;
	}
	free(line);
	return 0;
}
