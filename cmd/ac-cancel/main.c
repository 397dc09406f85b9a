/* ac-cancel: cancel tasks, queued or running. */
#include "cancel.h"
#include "cli.h"
#include "config.h"
#include "control.h"
#include "exitcode.h"
#include "store.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char synopsis[] = "ac-cancel [--wait [--timeout SEC]] [--store URL] ID...";

_Noreturn static void usage(void)
{
	printf("usage: %s\n\n"
	       "Cancel tasks.  Queued or pending ones end as cancelled at once; a running\n"
	       "one's handler gets SIGTERM (SIGKILL after its worker's --grace) and the task\n"
	       "ends as cancelled.  The cancel is kept in the store first, so a worker that\n"
	       "is away now does not run the task later.\n\n"
	       "  --wait                  return when every task has ended\n"
	       "  --timeout SEC           give up waiting after SEC (exit 3)\n"
	       "  --store URL             the store (default $AC_STORE, else $AC_HOME/ac.db)\n"
	       "  -h, --help              show this help\n"
	       "      --version           show the version\n\n"
	       "Exit status: 0 ok, 1 a task has already ended (nothing cancelled), 2 usage or\n"
	       "unknown task (nothing cancelled), 3 --wait ran out, 69 store unavailable.\n"
	       "See ac-cancel(1).\n", synopsis);
	exit(AC_EXIT_OK);
}

enum { OPT_WAIT = 256, OPT_TIMEOUT, OPT_STORE, OPT_VERSION };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_opt = NULL;
	int wait = 0, c;
	int64_t timeout_ms = 0, start;
	int64_t *ids;
	enum ac_task_status *status;
	size_t n;
	struct ac_store *store;
	struct ac_error err;
	char *url, *token = NULL;
	long long v;

	ac_cli_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_WAIT:
			wait = 1;
			break;
		case OPT_TIMEOUT:
			timeout_ms = ac_cli_seconds(synopsis, "--timeout", optarg);
			break;
		case OPT_STORE:
			store_opt = optarg;
			break;
		case 'h':
			usage();
		case OPT_VERSION:
			ac_cli_version();
		default:
			ac_cli_bad_option(synopsis, c, argv[optind - 1]);
		}
	}
	if (optind >= argc)
		ac_cli_usage_error(synopsis, "no task ID given");
	if (timeout_ms && !wait)
		ac_cli_usage_error(synopsis, "--timeout goes with --wait");
	n = (size_t)(argc - optind);
	ids = calloc(n, sizeof *ids);
	status = calloc(n, sizeof *status);
	if (!ids || !status)
		ac_cli_die(AC_EXIT_FAILED, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (ac_parse_int(argv[optind + (int)i], 1, INT64_MAX, &v) < 0)
			ac_cli_usage_error(synopsis, "'%s' is not a task id",
					   argv[optind + (int)i]);
		ids[i] = v;
	}
	/* The workers' token, to tell those of running tasks at once. */
	if (ac_ctl_token(NULL, &token, &err) < 0)
		token = NULL;
	url = ac_config_store_url(store_opt, 0, &err);
	if (!url || ac_store_open(url, 0, &store, &err) < 0 ||
	    ac_cancel_apply(store, ids, n, status, token, &err) < 0)
		ac_cli_die_error(&err);
	free(token);
	start = ac_mono_ms();
	while (wait) {
		struct timespec tick = { 0, 50 * 1000000L };
		size_t open_tasks = 0;

		if (store->ops->task_states(store, ids, n, status, &err) < 0)
			ac_cli_die_error(&err);
		for (size_t i = 0; i < n; i++)
			open_tasks += !ac_task_status_final(status[i]);
		if (!open_tasks)
			break;
		if (timeout_ms && ac_mono_ms() - start >= timeout_ms)
			ac_cli_die(AC_EXIT_TIMEOUT, "gave up waiting after %lld ms; %zu task(s) still running",
				   (long long)timeout_ms, open_tasks);
		nanosleep(&tick, NULL);
	}
	ac_store_close(store);
	free(url);
	free(ids);
	free(status);
	return AC_EXIT_OK;
}
