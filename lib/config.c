#include "config.h"
#include "exitcode.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *join(const char *a, const char *b)
{
	struct ac_buf buf = { 0 };

	if (ac_buf_printf(&buf, "%s/%s", a, b) < 0) {
		ac_buf_release(&buf);
		return NULL;
	}
	return buf.data;
}

char *ac_config_home(struct ac_error *err)
{
	const char *env = getenv("AC_HOME");
	char *home;

	if (env && *env)
		home = ac_strdup(env);
	else if ((env = getenv("XDG_STATE_HOME")) && *env)
		home = join(env, "ac");
	else if ((env = getenv("HOME")) && *env)
		home = join(env, ".local/state/ac");
	else {
		ac_error_set(err, AC_EXIT_USAGE,
			     "cannot find a home for ac: set AC_HOME or HOME");
		return NULL;
	}
	if (!home)
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	return home;
}

int ac_config_mkdirs(const char *dir, struct ac_error *err)
{
	char *path = ac_strdup(dir);
	char *p;

	if (!path)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	for (p = path + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;

			*p = '\0';
			if (mkdir(path, 0700) < 0 && errno != EEXIST) {
				ac_error_set(err, AC_EXIT_UNAVAILABLE,
					     "cannot create '%s': %s", path,
					     strerror(errno));
				free(path);
				return -1;
			}
			*p = saved;
			if (!saved)
				break;
		}
	}
	free(path);
	return 0;
}

char *ac_config_store_url(const char *option, int create_home,
			  struct ac_error *err)
{
	const char *env = getenv("AC_STORE");
	char *home, *url;

	if (option && *option)
		url = ac_strdup(option);
	else if (env && *env)
		url = ac_strdup(env);
	else {
		home = ac_config_home(err);
		if (!home)
			return NULL;
		if (create_home && ac_config_mkdirs(home, err) < 0) {
			free(home);
			return NULL;
		}
		url = join(home, "ac.db");
		free(home);
	}
	if (!url)
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	return url;
}
