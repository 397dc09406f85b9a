/* ac-budget: token and cost budgets shared by every worker.  The store
 * keeps each budget's account; handlers' usage reports are charged to it
 * as they come, and once a limit is reached its tasks are held (not
 * claimed) until the budget is raised, reset or removed. */
#include "cli.h"
#include "config.h"
#include "exitcode.h"
#include "render.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char synopsis[] =
	"ac-budget (set NAME K=N[,K=N...]... [--reset] | reset NAME | "
	"show NAME | list | rm NAME) [--json | --table] [--store URL]";

_Noreturn static void usage(void)
{
	printf("usage: ac-budget set NAME K=N[,K=N...]... [--reset]\n"
	       "       ac-budget reset NAME\n"
	       "       ac-budget show NAME\n"
	       "       ac-budget list\n"
	       "       ac-budget rm NAME\n"
	       "       (each also takes [--json | --table] [--store URL])\n\n"
	       "Budgets shared by every worker: the usage handlers report on fd 3\n"
	       "({\"usage\":{\"tokens\":N,\"cost\":X}}) is charged to their task's budget, and\n"
	       "once any limit is reached no worker claims the budget's tasks: they stay\n"
	       "pending, \"held\", until the budget is raised, reset or removed.  Tasks\n"
	       "are charged with ac-submit --budget-name NAME (or --budget K=N for a\n"
	       "budget of their own).\n\n"
	       "  set NAME K=N...         make NAME, or replace its limits (e.g. tokens=100000\n"
	       "                          cost=5); its usage is kept unless --reset\n"
	       "  --reset                 set: also start its usage again from zero\n"
	       "  reset NAME              start NAME's usage again from zero\n"
	       "  show NAME               one budget: limits, usage, remaining, spent, its\n"
	       "                          tasks by status and how many are held\n"
	       "  list                    every budget\n"
	       "  rm NAME                 remove NAME: its held tasks are released and its\n"
	       "                          tasks charged to no budget\n"
	       "  --json                  JSON output (the default when stdout is not a terminal)\n"
	       "  --table                 aligned table (the default on a terminal)\n"
	       "  --store URL             the store (default $AC_STORE, else $AC_HOME/ac.db;\n"
	       "                          set creates a missing one)\n"
	       "  -h, --help              show this help\n"
	       "      --version           show the version\n\n"
	       "Exit status: 0 ok, 1 no such budget (nothing changed), 2 usage (nothing\n"
	       "changed), 69 store unavailable.  See ac-budget(1).\n");
	exit(AC_EXIT_OK);
}

enum sub { SUB_SET, SUB_RESET, SUB_SHOW, SUB_LIST, SUB_RM, SUB_COUNT };

static const char *const sub_names[SUB_COUNT] = {
	"set", "reset", "show", "list", "rm"
};

enum { OPT_RESET = 256, OPT_JSON, OPT_TABLE, OPT_STORE, OPT_VERSION };

static const char *const list_cols[] = {
	"name", "limits", "usage", "remaining", "spent", "held", "tasks", NULL
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reset", no_argument, NULL, OPT_RESET },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "table", no_argument, NULL, OPT_TABLE },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_opt = NULL, *name = NULL;
	const char **positional = calloc((size_t)argc + 1, sizeof *positional);
	json_t *limits = json_object(), *out = NULL;
	char *limits_text = NULL, *url;
	size_t npos = 0;
	int reset = 0, table, c, rc;
	enum sub sub;
	struct ac_store *store;
	struct ac_error err;

	ac_cli_init(argv[0]);
	if (!positional || !limits)
		ac_cli_die(AC_EXIT_FAILED, "out of memory");
	table = ac_cli_isatty(STDOUT_FILENO);
	opterr = 0;
	/* Options may come anywhere; the first word names the subcommand. */
	while ((c = getopt_long(argc, argv, "-:h", longopts, NULL)) != -1) {
		switch (c) {
		case 1:
			positional[npos++] = optarg;
			break;
		case OPT_RESET:
			reset = 1;
			break;
		case OPT_JSON:
			table = 0;
			break;
		case OPT_TABLE:
			table = 1;
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
	if (npos == 0)
		ac_cli_usage_error(synopsis, "no subcommand given (set, reset, show, list or rm)");
	for (sub = 0; sub < SUB_COUNT; sub++)
		if (!strcmp(positional[0], sub_names[sub]))
			break;
	if (sub == SUB_COUNT)
		ac_cli_usage_error(synopsis, "unknown subcommand '%s'", positional[0]);
	if (reset && sub != SUB_SET)
		ac_cli_usage_error(synopsis, "--reset goes with set (or use: ac-budget reset NAME)");
	if (sub == SUB_LIST) {
		if (npos > 1)
			ac_cli_usage_error(synopsis, "unexpected argument '%s'",
					   positional[1]);
	} else {
		if (npos < 2)
			ac_cli_usage_error(synopsis, "%s wants a budget NAME",
					   sub_names[sub]);
		name = positional[1];
		if (ac_budget_name_check(name, &err) < 0)
			ac_cli_usage_error(synopsis, "%s", err.msg);
		if (sub == SUB_SET) {
			if (npos < 3 && !reset)
				ac_cli_usage_error(synopsis, "set wants limits K=N (e.g. tokens=100000) or --reset");
			for (size_t i = 2; i < npos; i++)
				ac_cli_budget_limits(synopsis, "set",
						     positional[i], limits);
			if (json_object_size(limits) &&
			    !(limits_text = json_dumps(limits, JSON_COMPACT)))
				ac_cli_die(AC_EXIT_FAILED, "out of memory");
		} else if (npos > 2) {
			ac_cli_usage_error(synopsis, "unexpected argument '%s'",
					   positional[2]);
		}
	}

	url = ac_config_store_url(store_opt, sub == SUB_SET, &err);
	if (!url || ac_store_open(url, sub == SUB_SET, &store, &err) < 0)
		ac_cli_die_error(&err);
	free(url);
	switch (sub) {
	case SUB_SET:
	case SUB_RESET:
		if (store->ops->budget_set(store, name, limits_text,
					   sub == SUB_RESET || reset, &err) < 0)
			ac_cli_die_error(&err);
		break;
	case SUB_RM:
		/* What it was, for the record printed. */
		if (store->ops->budgets_list(store, name, &out, &err) < 0 ||
		    store->ops->budget_remove(store, name, &err) < 0)
			ac_cli_die_error(&err);
		break;
	default:
		break;
	}
	if (!out && store->ops->budgets_list(store, name, &out, &err) < 0)
		ac_cli_die_error(&err);
	if (name) {
		json_t *one = json_incref(json_array_get(out, 0));

		json_decref(out);
		out = one;
	}
	if (!out)
		ac_cli_die(AC_EXIT_FAILED, "out of memory");
	if (!table)
		rc = ac_render_json(stdout, out);
	else if (sub == SUB_LIST)
		rc = ac_render_table(stdout, out, list_cols);
	else
		rc = ac_render_record(stdout, out);
	if (rc < 0 || fflush(stdout) != 0)
		ac_cli_die(AC_EXIT_FAILED, "cannot write the output: %s",
			   strerror(errno));
	json_decref(out);
	json_decref(limits);
	free(limits_text);
	free(positional);
	ac_store_close(store);
	return AC_EXIT_OK;
}
