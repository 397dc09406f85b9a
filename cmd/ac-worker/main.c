/* ac-worker: run tasks from the store with handler programs. */
#include "cli.h"
#include "exitcode.h"
#include "handler.h"
#include "log.h"
#include "otel.h"
#include "config.h"
#include "control.h"
#include "util.h"
#include "worker.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char synopsis[] =
	"ac-worker [--id ID] [--handler TYPE=COMMAND]... [--handlers DIR]... [--reload] "
	"[--stream TYPE=COMMAND]... [--concurrency N] [--tag TAG]... [--heartbeat SEC] [--lease SEC] "
	"[--grace SEC] [--drain-timeout SEC] [--retain DURATION] [--metrics HOST:PORT] [--listen URL] "
	"[--token-file FILE] [--insecure] [--tls-cert FILE] [--store URL] [-q | -v]";

_Noreturn static void usage(void)
{
	printf("usage: %s\n\n"
	       "Run tasks from the store, each in a handler process.\n\n"
	       "  --id ID                 worker id (default HOST-PID); a stable id keeps its drain state\n"
	       "  --handler TYPE=COMMAND  run COMMAND for each task of TYPE (repeatable)\n"
	       "  --handlers DIR          each executable file in DIR handles the type named like it\n"
	       "                          (repeatable; read again on SIGHUP)\n"
	       "  --reload                read the --handlers directories again as soon as they change\n"
	       "  --stream TYPE=COMMAND   stream mode: one long-lived COMMAND per slot reads a\n"
	       "                          JSON line per task of TYPE and answers with one (repeatable)\n"
	       "  --concurrency N         tasks run at once (default: the number of CPUs)\n"
	       "  --tag TAG               offer TAG to tasks that --require it (repeatable)\n"
	       "  --heartbeat SEC         heartbeat and lease renewal interval (default 5)\n"
	       "  --lease SEC             lease on each running task (default 30, >= 2 x heartbeat)\n"
	       "  --grace SEC             from SIGTERM to SIGKILL when a task times out, is\n"
	       "                          cancelled or handed back (default 10)\n"
	       "  --drain-timeout SEC     on SIGTERM, hand running tasks back to the queue after\n"
	       "                          SEC (default: wait for them however long)\n"
	       "  --retain DURATION       remove tasks that ended more than DURATION ago, with\n"
	       "                          their attempts (default 7d; 0 keeps everything)\n"
	       "  --metrics HOST:PORT     serve /healthz, /readyz and /metrics (Prometheus)\n"
	       "                          over HTTP; port 0 takes any free port\n"
	       "  --listen URL            control and event socket (default ipc:// under\n"
	       "                          $AC_HOME/run; tcp:// and tls+tcp:// need the token)\n"
	       "  --token-file FILE       the shared token (default $AC_TOKEN, $AC_TOKEN_FILE)\n"
	       "  --insecure              allow a tcp:// listener without a token\n"
	       "  --tls-cert FILE         certificate and key (PEM) for a tls+tcp:// listener\n"
	       "  --store URL             the store (default $AC_STORE, else $AC_HOME/ac.db)\n"
	       "  -q, --quiet             log warnings and errors only\n"
	       "  -v, --verbose           log every task\n"
	       "  -h, --help              show this help\n"
	       "      --version           show the version\n\n"
	       "SIGTERM or SIGINT drains (running tasks finish, none is claimed) and exits 0;\n"
	       "a second signal stops at once.  SIGHUP reads the --handlers directories again;\n"
	       "running tasks finish with the handlers they started with.  Exit status: 0 stopped cleanly, 1 failed,\n"
	       "2 usage, 69 store unavailable.  See ac-worker(1).\n\n"
	       "With OTEL_EXPORTER_OTLP_ENDPOINT set (http:// only), spans of each attempt are\n"
	       "exported over OTLP/HTTP JSON and handlers get TRACEPARENT.\n",
	       synopsis);
	exit(AC_EXIT_OK);
}

enum { OPT_ID = 256, OPT_HANDLER, OPT_HANDLERS, OPT_STREAM, OPT_CONCURRENCY, OPT_TAG,
       OPT_HEARTBEAT, OPT_LEASE, OPT_GRACE, OPT_STORE, OPT_VERSION,
       OPT_DRAIN_TIMEOUT, OPT_RETAIN, OPT_METRICS, OPT_LISTEN, OPT_TOKEN_FILE, OPT_INSECURE,
       OPT_TLS_CERT, OPT_RELOAD };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "id", required_argument, NULL, OPT_ID },
		{ "handler", required_argument, NULL, OPT_HANDLER },
		{ "handlers", required_argument, NULL, OPT_HANDLERS },
		{ "reload", no_argument, NULL, OPT_RELOAD },
		{ "stream", required_argument, NULL, OPT_STREAM },
		{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
		{ "tag", required_argument, NULL, OPT_TAG },
		{ "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
		{ "lease", required_argument, NULL, OPT_LEASE },
		{ "grace", required_argument, NULL, OPT_GRACE },
		{ "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
		{ "retain", required_argument, NULL, OPT_RETAIN },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct ac_worker_config cfg = {
		.heartbeat_ms = 5000,
		.lease_ms = 30000,
		.grace_ms = 10000,
		.retain_ms = 7LL * 24 * 3600 * 1000,
	};
	struct ac_handler *handlers = NULL, *found = NULL;
	size_t nhandlers = 0, nfound = 0;
	const char **dirs = NULL;
	size_t ndirs = 0;
	const char **tags = NULL;
	size_t ntags = 0;
	const char *store_opt = NULL;
	char *store_url, default_id[300];
	enum ac_log_level level = AC_LOG_INFO;
	struct ac_error err;
	struct ac_otel_config otel;
	long long n;
	int c, lease_set = 0, insecure = 0;
	const char *token_file = NULL;
	char *token = NULL, *home;

	ac_cli_init(argv[0]);
	/* Handlers' pipes must never land on fds 0-2. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			ac_cli_die(AC_EXIT_FAILED, "cannot open /dev/null");
	cfg.concurrency = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (cfg.concurrency < 1)
		cfg.concurrency = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":qvh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ID:
			if (!ac_name_valid(optarg))
				ac_cli_usage_error(synopsis, "invalid worker id '%s' (use letters, digits and _.:@-)",
						   optarg);
			cfg.id = optarg;
			break;
		case OPT_HANDLER:
		case OPT_STREAM: {
			struct ac_handler *grown = realloc(handlers,
				(nhandlers + 1) * sizeof *handlers);

			if (!grown)
				ac_cli_die(AC_EXIT_FAILED, "out of memory");
			handlers = grown;
			if (ac_handler_init_spec(&handlers[nhandlers], optarg,
						 c == OPT_STREAM ? "--stream" :
						 "--handler", &err) < 0)
				ac_cli_die_error(&err);
			handlers[nhandlers].stream = c == OPT_STREAM;
			nhandlers++;
			break;
		}
		case OPT_HANDLERS: {
			const char **grown;

			/* Read now for the checks below; the worker reads
			 * the directory itself (again at each reload). */
			if (ac_handler_scan_dir(optarg, &found, &nfound,
						&err) < 0)
				ac_cli_die_error(&err);
			grown = realloc(dirs, (ndirs + 1) * sizeof *dirs);
			if (!grown)
				ac_cli_die(AC_EXIT_FAILED, "out of memory");
			dirs = grown;
			dirs[ndirs++] = optarg;
			break;
		}
		case OPT_RELOAD:
			cfg.reload = 1;
			break;
		case OPT_CONCURRENCY:
			if (ac_parse_int(optarg, 1, 1024, &n) < 0)
				ac_cli_usage_error(synopsis, "--concurrency wants a number from 1 to 1024, not '%s'",
						   optarg);
			cfg.concurrency = (int)n;
			break;
		case OPT_TAG: {
			const char **grown;

			if (!ac_name_valid(optarg))
				ac_cli_usage_error(synopsis, "invalid tag '%s' (use letters, digits and _.:@-)",
						   optarg);
			grown = realloc(tags, (ntags + 1) * sizeof *tags);
			if (!grown)
				ac_cli_die(AC_EXIT_FAILED, "out of memory");
			tags = grown;
			tags[ntags++] = optarg;
			break;
		}
		case OPT_HEARTBEAT:
			cfg.heartbeat_ms = ac_cli_seconds(synopsis, "--heartbeat", optarg);
			break;
		case OPT_LEASE:
			cfg.lease_ms = ac_cli_seconds(synopsis, "--lease", optarg);
			lease_set = 1;
			break;
		case OPT_GRACE:
			cfg.grace_ms = ac_cli_seconds(synopsis, "--grace", optarg);
			break;
		case OPT_DRAIN_TIMEOUT:
			cfg.drain_timeout_ms = ac_cli_seconds(synopsis, "--drain-timeout", optarg);
			break;
		case OPT_RETAIN:
			if (ac_parse_duration_ms(optarg, &cfg.retain_ms) < 0 ||
			    cfg.retain_ms < 0)
				ac_cli_usage_error(synopsis, "--retain wants a duration such as 7d, 12h or 0 (keep everything), not '%s'",
						   optarg);
			break;
		case OPT_METRICS: {
			const char *colon = strrchr(optarg, ':');
			long long port;

			if (!colon || colon == optarg ||
			    ac_parse_int(colon + 1, 0, 65535, &port) < 0)
				ac_cli_usage_error(synopsis, "--metrics wants HOST:PORT (port 0 = any free one), not '%s'",
						   optarg);
			cfg.metrics_listen = optarg;
			break;
		}
		case OPT_LISTEN:
			if (strncmp(optarg, "ipc://", 6) &&
			    strncmp(optarg, "tcp://", 6) &&
			    strncmp(optarg, "tls+tcp://", 10))
				ac_cli_usage_error(synopsis, "--listen wants ipc://PATH, tcp://HOST:PORT or tls+tcp://HOST:PORT, not '%s'",
						   optarg);
			cfg.listen_url = optarg;
			break;
		case OPT_TOKEN_FILE:
			token_file = optarg;
			break;
		case OPT_INSECURE:
			insecure = 1;
			break;
		case OPT_TLS_CERT:
			if (access(optarg, R_OK) < 0)
				ac_cli_usage_error(synopsis, "cannot read the certificate '%s'",
						   optarg);
			cfg.tls_cert = optarg;
			break;
		case OPT_STORE:
			store_opt = optarg;
			break;
		case 'q':
			level = AC_LOG_WARN;
			break;
		case 'v':
			level = AC_LOG_DEBUG;
			cfg.verbose = 1;
			break;
		case 'h':
			usage();
		case OPT_VERSION:
			ac_cli_version();
		default:
			ac_cli_bad_option(synopsis, c, argv[optind - 1]);
		}
	}
	if (optind < argc)
		ac_cli_usage_error(synopsis, "unexpected argument '%s'",
				   argv[optind]);
	if (cfg.reload && ndirs == 0)
		ac_cli_usage_error(synopsis, "--reload watches the --handlers directories: give --handlers DIR");
	/* With --reload an empty directory is a start: handlers may come. */
	if (nhandlers + nfound == 0 && !cfg.reload)
		ac_cli_usage_error(synopsis, "no handlers: give --handler TYPE=COMMAND, --stream TYPE=COMMAND or --handlers DIR");
	for (size_t i = 0; i < nhandlers + nfound; i++)
		for (size_t j = i + 1; j < nhandlers + nfound; j++) {
			const char *a = i < nhandlers ? handlers[i].type :
				found[i - nhandlers].type;
			const char *b = j < nhandlers ? handlers[j].type :
				found[j - nhandlers].type;

			if (!strcmp(a, b))
				ac_cli_usage_error(synopsis, "two handlers for task type '%s'",
						   a);
		}
	for (size_t i = 0; i < nfound; i++)
		ac_handler_release(&found[i]);
	free(found);
	if (!lease_set && cfg.lease_ms < 2 * cfg.heartbeat_ms)
		cfg.lease_ms = 6 * cfg.heartbeat_ms;
	if (cfg.lease_ms < 2 * cfg.heartbeat_ms)
		ac_cli_usage_error(synopsis, "--lease must be at least twice --heartbeat");
	if (!cfg.id) {
		char host[256];

		if (gethostname(host, sizeof host) < 0)
			snprintf(host, sizeof host, "localhost");
		host[sizeof host - 1] = '\0';
		snprintf(default_id, sizeof default_id, "%s-%ld", host,
			 (long)getpid());
		cfg.id = default_id;
	}
	if (ac_ctl_token(token_file, &token, &err) < 0)
		ac_cli_die_error(&err);
	if (cfg.listen_url && !ac_ctl_url_is_local(cfg.listen_url) && !token &&
	    !insecure)
		ac_cli_usage_error(synopsis, "a %s listener needs the shared token (AC_TOKEN or --token-file), or --insecure",
				   cfg.listen_url);
	if (cfg.listen_url && !strncmp(cfg.listen_url, "tls+tcp://", 10) &&
	    !cfg.tls_cert)
		ac_cli_usage_error(synopsis, "a tls+tcp:// listener needs --tls-cert FILE");
	cfg.token = token;
	home = ac_config_home(&err);
	if (!home || ac_config_mkdirs(home, &err) < 0)
		ac_cli_die_error(&err);
	cfg.home = home;
	store_url = ac_config_store_url(store_opt, 1, &err);
	if (!store_url)
		ac_cli_die_error(&err);
	ac_log_init(ac_prog, level);
	cfg.store_url = store_url;
	cfg.handlers = handlers;
	cfg.nhandlers = nhandlers;
	cfg.handler_dirs = dirs;
	cfg.nhandler_dirs = ndirs;
	cfg.tags = tags;
	cfg.ntags = ntags;
	/* OpenTelemetry comes from the OTEL_* environment, as in every SDK. */
	switch (ac_otel_config_env(&otel, &err)) {
	case -1:
		ac_cli_die_error(&err);
	case 1:
		cfg.otel = &otel;
		if (otel.warning[0])
			ac_log_warn("%s", otel.warning);
		break;
	}
	if (ac_worker_run(&cfg, &err) < 0)
		ac_cli_die_error(&err);
	ac_otel_config_release(&otel);
	for (size_t i = 0; i < nhandlers; i++)
		ac_handler_release(&handlers[i]);
	free(handlers);
	free(dirs);
	free(tags);
	free(store_url);
	free(token);
	free(home);
	return AC_EXIT_OK;
}
