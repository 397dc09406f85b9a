/* Unit tests of lib/control.c, lib/events.c and lib/route.c: token checks
 * on a real tcp listener on loopback, request decoding, the event ring's
 * long-poll replies, and the routing functions.  TAP-like output. */
#include "control.h"
#include "events.h"
#include "route.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int test_no, failures;

static void check(int ok, const char *name)
{
	test_no++;
	printf("%sok %d - %s\n", ok ? "" : "not ", test_no, name);
	if (!ok)
		failures++;
}

struct server_run {
	struct ac_ctl_server *srv;
	int served;
	int stop;
};

/* Answer requests with {"ok":true,"op":OP} until told to stop. */
static void *serve(void *arg)
{
	struct server_run *run = arg;

	while (!run->stop) {
		struct ac_ctl_request *h;
		struct ac_error err;
		char why[256] = "";
		json_t *req;
		int rc = ac_ctl_server_recv(run->srv, &req, &h, why, sizeof why,
					    &err);

		if (rc == 1) {
			json_t *reply = json_pack("{s:b,s:O}", "ok", 1, "op",
						  json_object_get(req, "op"));

			ac_ctl_reply(run->srv, h, reply);
			json_decref(reply);
			json_decref(req);
			run->served++;
		} else {
			usleep(1000);
		}
	}
	return NULL;
}

static void test_tokens(void)
{
	struct server_run run = { 0 };
	struct ac_error err;
	char url[64];
	pthread_t thread;
	json_t *req = json_pack("{s:s}", "op", "info"), *reply = NULL;
	int port = 0;

	/* A free port: try a few. */
	for (int p = 47310; p < 47400 && !run.srv; p++) {
		snprintf(url, sizeof url, "tcp://127.0.0.1:%d", p);
		if (ac_ctl_server_open(&run.srv, url, "s3cret", NULL, &err) == 0)
			port = p;
	}
	check(run.srv != NULL, "a tcp listener with a token opens on loopback");
	if (!run.srv)
		return;
	(void)port;
	pthread_create(&thread, NULL, serve, &run);

	check(ac_ctl_call(url, NULL, req, 2000, &reply, &err) == 0 &&
	      !json_is_true(json_object_get(reply, "ok")) &&
	      !strcmp(json_string_value(json_object_get(reply, "error")), "unauthorized"),
	      "a request without the token is refused");
	json_decref(reply);
	reply = NULL;
	check(ac_ctl_call(url, "wrong", req, 2000, &reply, &err) == 0 &&
	      !json_is_true(json_object_get(reply, "ok")),
	      "a request with a wrong token is refused");
	json_decref(reply);
	reply = NULL;
	check(run.served == 0, "refused requests never reach the worker's loop");
	check(ac_ctl_call(url, "s3cret", req, 2000, &reply, &err) == 0 &&
	      json_is_true(json_object_get(reply, "ok")) &&
	      !strcmp(json_string_value(json_object_get(reply, "op")), "info"),
	      "a request with the token is answered");
	json_decref(reply);
	check(ac_ctl_call("tcp://127.0.0.1:1", NULL, req, 500, &reply, &err) == -1 &&
	      err.exit_code == 69, "an unreachable worker is exit code 69");
	run.stop = 1;
	pthread_join(thread, NULL);
	ac_ctl_server_close(run.srv);
	json_decref(req);
}

static void test_parse(void)
{
	const char *answer;
	char why[256];
	json_t *req;
	static const char *const bad[] = {
		"", "{", "[]", "{\"op\":1}", "{\"x\":\"y\"}", "null", "\"op\"",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char name[80];

		snprintf(name, sizeof name, "malformed request %zu is refused", i);
		check(ac_ctl_parse_request(bad[i], strlen(bad[i]), NULL, &req,
					   &answer, why, sizeof why) == -1 &&
		      !strcmp(answer, "malformed request"), name);
	}
	{
		size_t big = AC_CTL_MAX_MSG + 10;
		char *huge = malloc(big);

		memset(huge, ' ', big);
		memcpy(huge, "{\"op\":\"info\"}", 13);
		why[0] = '\0';
		check(huge && ac_ctl_parse_request(huge, big, NULL, &req, &answer,
						   why, sizeof why) == -1 &&
		      !strcmp(answer, "request too large") &&
		      strstr(why, "oversized"),
		      "an oversized request is refused with a line for the log");
		free(huge);
	}
	const char *good = "{\"op\":\"poke\",\"token\":\"t\"}";

	check(ac_ctl_parse_request(good, strlen(good), "t",
				   &req, &answer, why, sizeof why) == 0 &&
	      !json_object_get(req, "token"),
	      "a good request is decoded and its token removed");
	json_decref(req);
}

static void test_ring(void)
{
	struct ac_event_ring ring;
	struct ac_buf out = { 0 };
	json_t *reply;

	ac_event_ring_init(&ring);
	check(ac_event_ring_reply(&ring, -1, 0, NULL, 10, &out) == 0,
	      "an empty ring has nothing to say");
	for (int i = 1; i <= 5; i++) {
		json_t *ev = json_pack("{s:s,s:i,s:s}", "event", "task.started",
				       "task", i, "type", i % 2 ? "odd" : "even");

		ac_event_ring_add(&ring, ev);
		json_decref(ev);
	}
	check(ac_event_ring_reply(&ring, 0, 0, NULL, 10, &out) == 5,
	      "five events after seq 0");
	reply = json_loads(out.data, 0, NULL);
	check(json_integer_value(json_object_get(reply, "seq")) == 5 &&
	      json_array_size(json_object_get(reply, "events")) == 5,
	      "the reply carries the events and the last seq");
	json_decref(reply);
	check(ac_event_ring_reply(&ring, 0, 0, "odd", 10, &out) == 3,
	      "a type filter keeps three");
	check(ac_event_ring_reply(&ring, 0, 4, NULL, 10, &out) == 1,
	      "a task filter keeps one");
	check(ac_event_ring_reply(&ring, 5, 0, NULL, 10, &out) == 0,
	      "nothing after the last seq: the follower waits");
	for (int i = 0; i < AC_EVENTS_KEEP + 10; i++) {
		json_t *ev = json_pack("{s:s}", "event", "worker.heartbeat");

		ac_event_ring_add(&ring, ev);
		json_decref(ev);
	}
	ac_event_ring_reply(&ring, 0, 0, NULL, 1, &out);
	reply = json_loads(out.data, 0, NULL);
	check(json_integer_value(json_object_get(reply, "missed")) > 0,
	      "a follower that fell behind is told how many it missed");
	json_decref(reply);
	ac_buf_release(&out);
	ac_event_ring_release(&ring);
}

static void test_route(void)
{
	struct ac_route_candidate four[] = {
		{ "w1", 4, 0 }, { "w2", 4, 0 }, { "w3", 4, 0 }, { "w4", 4, 0 },
	};
	struct ac_route_candidate three[] = {
		{ "w1", 4, 0 }, { "w3", 4, 0 }, { "w4", 4, 0 },
	};
	int used[4] = { 0 }, moved_other = 0, distinct = 0;
	enum ac_route r;

	for (int k = 0; k < 16; k++) {
		char key[16];
		int a, b;

		snprintf(key, sizeof key, "key-%d", k);
		a = ac_route_hash(four, 4, key);
		used[a] = 1;
		b = ac_route_hash(three, 3, key);
		/* Keys of w1, w3, w4 stay where they were. */
		if (a != 1 && strcmp(four[a].id, three[b].id))
			moved_other++;
		if (ac_route_hash(four, 4, key) != a)
			moved_other += 100;
	}
	for (int i = 0; i < 4; i++)
		distinct += used[i];
	check(distinct >= 3, "16 keys land on at least 3 of 4 workers");
	check(moved_other == 0, "removing a worker moves only its own keys");
	check(ac_route_hash(four, 0, "k") == -1, "no candidates, no owner");
	four[2].load = 3;
	four[0].load = 1;
	four[1].load = 1;
	four[3].load = 2;
	check(ac_route_least_loaded(four, 4) == 0,
	      "least-loaded picks the most free slots, then the id");
	check(ac_route_parse("round-robin", &r) == 0 && r == AC_ROUTE_ROUND_ROBIN &&
	      ac_route_parse("random", &r) == -1, "route names parse");
}

int main(void)
{
	test_parse();
	test_ring();
	test_route();
	test_tokens();
	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
