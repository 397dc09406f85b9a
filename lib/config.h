/* Where things live: the store URL and AC_HOME, resolved the same way by
 * every command (DESIGN.md, "Commands"). */
#ifndef AC_CONFIG_H
#define AC_CONFIG_H

#include "error.h"

/* The size limit on task data, results and checkpoints, in bytes of
 * compact JSON text (before any compression). */
#define AC_MAX_PAYLOAD (8u * 1024 * 1024)

/* Values of at least this many bytes are stored lz4-compressed when that
 * makes them smaller (compress.h).  Below it the saving is a few hundred
 * bytes at most, not worth a frame and a decode on every read.  A build
 * may set another (-DAC_COMPRESS_MIN=N, e.g. to measure without
 * compression); stores written by either stay readable by both. */
#ifndef AC_COMPRESS_MIN
#define AC_COMPRESS_MIN 1024u
#endif

/* AC_HOME: $AC_HOME, else $XDG_STATE_HOME/ac, else $HOME/.local/state/ac.
 * Returns a malloc'd string the caller frees, or NULL with err set. */
char *ac_config_home(struct ac_error *err);

/* Create dir and its parents with mode 0700 where missing. */
int ac_config_mkdirs(const char *dir, struct ac_error *err);

/* The store URL: option (may be NULL), else $AC_STORE, else
 * $AC_HOME/ac.db (creating AC_HOME when create_home is set).  Returns a
 * malloc'd string the caller frees, or NULL with err set. */
char *ac_config_store_url(const char *option, int create_home,
			  struct ac_error *err);

#endif
