/* Rendering JSON for people: aligned tables for terminals.  Scripts get
 * the JSON itself. */
#ifndef AC_RENDER_H
#define AC_RENDER_H

#include <jansson.h>
#include <stdio.h>

/* rows: array of objects; one column per name in cols (NULL-terminated),
 * a header line of upper-cased names first.  Strings print bare, null as
 * "-", arrays and objects as compact JSON, long cells cut to 60 chars. */
int ac_render_table(FILE *out, json_t *rows, const char *const *cols);

/* One object as "key  value" lines, keys aligned. */
int ac_render_record(FILE *out, json_t *obj);

/* A JSON value as one line (arrays of objects as JSON, not JSON Lines). */
int ac_render_json(FILE *out, json_t *value);

#endif
