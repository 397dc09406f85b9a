/* Task graphs as a whole (graph.h). */
#include "graph.h"

#include "exitcode.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char *id_key(int64_t id, char *buf, size_t size)
{
	snprintf(buf, size, "%lld", (long long)id);
	return buf;
}

/* Every task linked to id, by id, each its task_links object; *cut when
 * AC_TREE_MAX stopped the walk. */
static int collect(struct ac_store *store, int64_t id, json_t *nodes,
		   int *cut, struct ac_error *err)
{
	int64_t *queue = malloc(AC_TREE_MAX * sizeof *queue);
	size_t head = 0, tail = 0;
	char key[24];
	int rc = 0;

	if (!queue)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	queue[tail++] = id;
	json_object_set_new(nodes, id_key(id, key, sizeof key), json_null());
	while (head < tail && rc == 0) {
		static const char *const linked[] = { "after", "children",
						      "dependents" };
		int64_t at = queue[head++];
		json_t *links = NULL, *v;
		size_t i;

		if (store->ops->task_links(store, at, &links, err) < 0) {
			/* A pruned task that others still name: left out. */
			if (at != id && err->exit_code == AC_EXIT_USAGE)
				continue;
			rc = -1;
			break;
		}
		json_object_set_new(nodes, id_key(at, key, sizeof key), links);
		for (int k = -1; k < 3; k++) {
			json_t *list = k < 0 ? NULL :
				json_object_get(links, linked[k]);
			json_t *one = k < 0 ? json_object_get(links, "parent") :
				NULL;
			size_t n = k < 0 ? (json_is_integer(one) ? 1 : 0) :
				json_array_size(list);

			for (i = 0; i < n; i++) {
				int64_t next;

				v = k < 0 ? one : json_array_get(list, i);
				next = json_integer_value(v);
				if (json_object_get(nodes, id_key(next, key,
								  sizeof key)))
					continue;
				if (tail == AC_TREE_MAX) {
					*cut = 1;
					continue;
				}
				json_object_set_new(nodes, key, json_null());
				queue[tail++] = next;
			}
		}
	}
	free(queue);
	return rc;
}

/* 1 when id is among the array's integers. */
static int listed(json_t *list, int64_t id)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
		if (json_integer_value(v) == id)
			return 1;
	return 0;
}

static json_t *node(json_t *nodes, json_t *shown, int64_t id,
		    const char *edge, size_t depth)
{
	char key[24];
	json_t *links = json_object_get(nodes, id_key(id, key, sizeof key));
	json_t *o, *kids, *v;
	size_t i;

	if (!json_is_object(links))
		return NULL;
	o = json_pack("{s:I,s:O,s:O,s:s}", "id", (json_int_t)id, "type",
		      json_object_get(links, "type"), "status",
		      json_object_get(links, "status"), "edge", edge);
	if (!o)
		return NULL;
	if (json_array_size(json_object_get(links, "after")))
		json_object_set(o, "after", json_object_get(links, "after"));
	if (json_object_get(shown, key) || depth > AC_GRAPH_DEPTH_MAX + 1) {
		json_object_set_new(o, "seen", json_true());
		return o;
	}
	json_object_set_new(shown, key, json_true());
	kids = json_array();
	/* Sub-tasks first, then the tasks that wait for it. */
	json_array_foreach(json_object_get(links, "children"), i, v) {
		json_t *c = node(nodes, shown, json_integer_value(v),
				 listed(json_object_get(links, "dependents"),
					json_integer_value(v)) ? "child+after" :
				 "child", depth + 1);

		if (c)
			json_array_append_new(kids, c);
	}
	json_array_foreach(json_object_get(links, "dependents"), i, v) {
		json_t *c;

		if (listed(json_object_get(links, "children"),
			   json_integer_value(v)))
			continue;
		c = node(nodes, shown, json_integer_value(v), "after",
			 depth + 1);
		if (c)
			json_array_append_new(kids, c);
	}
	json_object_set_new(o, "children", kids ? kids : json_array());
	return o;
}

int ac_task_tree(struct ac_store *store, int64_t id, json_t **out,
		 struct ac_error *err)
{
	json_t *nodes = json_object(), *shown = json_object();
	json_t *roots = json_array(), *links;
	const char *key;
	int cut = 0;

	if (!nodes || !shown || !roots) {
		json_decref(nodes);
		json_decref(shown);
		json_decref(roots);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	if (collect(store, id, nodes, &cut, err) < 0) {
		json_decref(nodes);
		json_decref(shown);
		json_decref(roots);
		return -1;
	}
	/* Roots: nothing above them within the graph, oldest first (object
	 * keys come in insertion order; sorted here by id). */
	{
		int64_t *ids = malloc(json_object_size(nodes) * sizeof *ids);
		size_t n = 0;

		if (!ids) {
			json_decref(nodes);
			json_decref(shown);
			json_decref(roots);
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
		json_object_foreach(nodes, key, links) {
			json_t *parent = json_object_get(links, "parent");
			json_t *after = json_object_get(links, "after"), *v;
			char pk[24];
			size_t i;
			int above = 0;

			if (!json_is_object(links))
				continue;
			if (json_is_integer(parent) &&
			    json_is_object(json_object_get(nodes,
				    id_key(json_integer_value(parent), pk,
					   sizeof pk))))
				above = 1;
			json_array_foreach(after, i, v)
				if (json_is_object(json_object_get(nodes,
					id_key(json_integer_value(v), pk,
					       sizeof pk))))
					above = 1;
			if (!above)
				ids[n++] = strtoll(key, NULL, 10);
		}
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
				int64_t t = ids[j];

				ids[j] = ids[j - 1];
				ids[j - 1] = t;
			}
		for (size_t i = 0; i < n; i++) {
			json_t *r = node(nodes, shown, ids[i], "root", 0);

			if (r && cut)
				json_object_set_new(r, "truncated", json_true());
			if (r)
				json_array_append_new(roots, r);
		}
		free(ids);
	}
	json_decref(nodes);
	json_decref(shown);
	*out = roots;
	return 0;
}

static int print_node(FILE *f, json_t *n, int64_t mark, struct ac_buf *indent,
		      int last, int top)
{
	json_t *kids = json_object_get(n, "children"), *k, *after;
	size_t len = indent->len, i;
	int64_t id = json_integer_value(json_object_get(n, "id"));

	fprintf(f, "%s%s%lld %s %s", indent->data ? indent->data : "",
		top ? "" : last ? "└── " : "├── ", (long long)id,
		json_string_value(json_object_get(n, "type")),
		json_string_value(json_object_get(n, "status")));
	after = json_object_get(n, "after");
	if (json_array_size(after) > 1) {
		fputs(" (after", f);
		json_array_foreach(after, i, k)
			fprintf(f, "%s %lld", i ? "," : "",
				(long long)json_integer_value(k));
		fputc(')', f);
	}
	if (json_is_true(json_object_get(n, "seen")))
		fputs(" (shown above)", f);
	if (id == mark)
		fputs("  <-", f);
	fputc('\n', f);
	if (!top && ac_buf_append(indent, last ? "    " : "│   ",
				  strlen(last ? "    " : "│   ")) < 0)
		return -1;
	json_array_foreach(kids, i, k)
		if (print_node(f, k, mark, indent,
			       i + 1 == json_array_size(kids), 0) < 0)
			return -1;
	indent->len = len;
	if (indent->data)
		indent->data[len] = '\0';
	return 0;
}

int ac_task_tree_print(FILE *f, json_t *roots, int64_t mark)
{
	struct ac_buf indent = { 0 };
	json_t *r;
	size_t i;
	int rc = 0;

	json_array_foreach(roots, i, r) {
		if (print_node(f, r, mark, &indent, 1, 1) < 0)
			rc = -1;
		if (json_is_true(json_object_get(r, "truncated")))
			fprintf(f, "(cut at %d tasks)\n", AC_TREE_MAX);
	}
	ac_buf_release(&indent);
	return rc;
}
