#include "render.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define CELL_MAX 60

/* Reals to 15 significant digits, the most a double holds exactly, so
 * that a stored 0.03 prints as 0.03, not 0.029999999999999999. */
#define SHOWN_PRECISION JSON_REAL_PRECISION(15)

/* A cell's text, malloc'd. */
static char *cell_text(json_t *v)
{
	char buf[64];

	if (!v || json_is_null(v))
		return ac_strdup("-");
	if (json_is_string(v))
		return ac_strdup(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
		return ac_strdup(buf);
	}
	if (json_is_real(v)) {
		snprintf(buf, sizeof buf, "%g", json_real_value(v));
		return ac_strdup(buf);
	}
	if (json_is_boolean(v))
		return ac_strdup(json_is_true(v) ? "yes" : "no");
	if (json_is_array(v) && json_array_size(v) == 0)
		return ac_strdup("-");
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | SHOWN_PRECISION);
}

/* Cut to CELL_MAX characters and turn control characters into spaces, so
 * that one row stays one line. */
static void tidy(char *s)
{
	size_t n = 0;

	for (char *p = s; *p; p++, n++) {
		if (iscntrl((unsigned char)*p))
			*p = ' ';
		if (n == CELL_MAX - 3 && strlen(p) > 3) {
			memcpy(p, "...", 4);
			return;
		}
	}
}

int ac_render_table(FILE *out, json_t *rows, const char *const *cols)
{
	size_t ncols = 0, nrows = json_array_size(rows);
	size_t *width;
	char **cells;
	int rc = 0;

	while (cols[ncols])
		ncols++;
	width = calloc(ncols, sizeof *width);
	cells = calloc((nrows + 1) * ncols, sizeof *cells);
	if (!width || !cells) {
		free(width);
		free(cells);
		return -1;
	}
	for (size_t c = 0; c < ncols; c++) {
		char *h = ac_strdup(cols[c]);

		for (char *p = h; p && *p; p++)
			*p = (char)toupper((unsigned char)*p);
		cells[c] = h;
	}
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++)
			cells[(r + 1) * ncols + c] = cell_text(
				json_object_get(json_array_get(rows, r), cols[c]));
	for (size_t i = 0; i < (nrows + 1) * ncols; i++) {
		if (!cells[i]) {
			rc = -1;
			goto out;
		}
		tidy(cells[i]);
		if (strlen(cells[i]) > width[i % ncols])
			width[i % ncols] = strlen(cells[i]);
	}
	for (size_t r = 0; r <= nrows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			const char *s = cells[r * ncols + c];

			if (c + 1 < ncols)
				fprintf(out, "%-*s  ", (int)width[c], s);
			else
				fprintf(out, "%s\n", s);
		}
	}
out:
	for (size_t i = 0; i < (nrows + 1) * ncols; i++)
		free(cells[i]);
	free(cells);
	free(width);
	return rc;
}

int ac_render_record(FILE *out, json_t *obj)
{
	const char *key;
	json_t *v;
	size_t w = 0;

	json_object_foreach(obj, key, v)
		if (strlen(key) > w)
			w = strlen(key);
	json_object_foreach(obj, key, v) {
		char *text = cell_text(v);

		if (!text)
			return -1;
		fprintf(out, "%-*s  %s\n", (int)w, key, text);
		free(text);
	}
	return 0;
}

int ac_render_json(FILE *out, json_t *value)
{
	if (json_dumpf(value, out, JSON_COMPACT | JSON_ENCODE_ANY |
		       SHOWN_PRECISION) < 0)
		return -1;
	fputc('\n', out);
	return 0;
}
