/* ac-drain: stop workers from claiming new tasks (kept in the store). */
#include "cli.h"
#include "config.h"
#include "control.h"
#include "drain.h"
#include "exitcode.h"
#include "store.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char synopsis[] =
	"ac-drain [--reason TEXT] [--wait [--timeout SEC]] [--stop] WORKER... | ac-drain --undo WORKER...";

_Noreturn static void usage(void)
{
	printf("usage: ac-drain [--reason TEXT] [--wait [--timeout SEC]] [--stop] WORKER...\n"
	       "       ac-drain --undo WORKER...\n\n"
	       "Drain workers: they claim nothing new and finish what they run.  The drain\n"
	       "is kept in the store, survives a worker's restart, and holds until undone.\n\n"
	       "  --reason TEXT           why (shown as drain_reason by ac-status --workers)\n"
	       "  --wait                  return when the workers' running tasks have ended\n"
	       "  --timeout SEC           give up waiting after SEC (exit 3)\n"
	       "  --stop                  also make the workers exit once idle\n"
	       "  --undo                  let the workers claim again\n"
	       "  --store URL             the store (default $AC_STORE, else $AC_HOME/ac.db)\n"
	       "  -h, --help              show this help\n"
	       "      --version           show the version\n\n"
	       "Exit status: 0 ok, 2 usage or unknown worker (nothing changed), 3 --wait\n"
	       "ran out, 69 store unavailable.  See ac-drain(1).\n");
	exit(AC_EXIT_OK);
}

enum { OPT_REASON = 256, OPT_WAIT, OPT_TIMEOUT, OPT_STOP, OPT_UNDO, OPT_STORE,
       OPT_VERSION };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, OPT_REASON },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "stop", no_argument, NULL, OPT_STOP },
		{ "undo", no_argument, NULL, OPT_UNDO },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *reason = NULL, *store_opt = NULL;
	int wait = 0, stop = 0, undo = 0, c, rc;
	int64_t timeout_ms = 0;
	struct ac_store *store;
	struct ac_error err;
	char *url, *token = NULL;

	ac_cli_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_REASON:
			if (strlen(optarg) > 1024)
				ac_cli_usage_error(synopsis, "--reason wants at most 1024 characters");
			reason = optarg;
			break;
		case OPT_WAIT:
			wait = 1;
			break;
		case OPT_TIMEOUT:
			timeout_ms = ac_cli_seconds(synopsis, "--timeout", optarg);
			break;
		case OPT_STOP:
			stop = 1;
			break;
		case OPT_UNDO:
			undo = 1;
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
		ac_cli_usage_error(synopsis, "no WORKER given");
	if (undo && (reason || wait || stop))
		ac_cli_usage_error(synopsis, "--undo takes no --reason, --wait or --stop");
	if (timeout_ms && !wait)
		ac_cli_usage_error(synopsis, "--timeout goes with --wait");
	for (int i = optind; i < argc; i++)
		if (!ac_name_valid(argv[i]))
			ac_cli_usage_error(synopsis, "invalid worker id '%s'", argv[i]);

	url = ac_config_store_url(store_opt, 0, &err);
	if (!url || ac_store_open(url, 0, &store, &err) < 0)
		ac_cli_die_error(&err);
	/* The workers' token, to tell those that can be reached at once. */
	if (ac_ctl_token(NULL, &token, &err) < 0)
		token = NULL;
	if (ac_drain_apply(store, (const char *const *)argv + optind,
			   (size_t)(argc - optind), reason,
			   undo ? AC_DRAIN_UNDO :
			   stop ? AC_DRAIN_STOP : AC_DRAIN_SET, token, &err) < 0)
		ac_cli_die_error(&err);
	free(token);
	rc = AC_EXIT_OK;
	if (wait) {
		int waited = ac_drain_wait(store, (const char *const *)argv + optind,
					   (size_t)(argc - optind), timeout_ms,
					   &err);

		if (waited < 0)
			ac_cli_die_error(&err);
		if (waited == 1)
			ac_cli_die(AC_EXIT_TIMEOUT, "gave up waiting after %lld ms; the workers stay drained",
				   (long long)timeout_ms);
	}
	ac_store_close(store);
	free(url);
	return rc;
}
