/* Task graphs as a whole: the tree (`ac-status --task ID --tree`) of
 * every task linked to one, by sub-tasks (parent) and by waiting
 * (--after), read through the store's task_links. */
#ifndef AC_GRAPH_H
#define AC_GRAPH_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "store.h"

/* Read no more tasks than this for one tree. */
#define AC_TREE_MAX 10000

/* The graph around task id as a new JSON array of its roots (tasks that
 * wait for none of it and have no parent in it), each
 * {"id","type","status","edge","children":[...]} where edge says how a
 * node hangs from the one above it ("root", "child": spawned by it,
 * "after": waits for it) and a task met again (it waits for several)
 * appears as {"id",...,"seen":true} without children.  A graph larger than
 * AC_TREE_MAX tasks is cut there and its roots say "truncated": true.
 * An unknown id is an error. */
int ac_task_tree(struct ac_store *store, int64_t id, json_t **out,
		 struct ac_error *err);

/* The tree as indented lines, `mark` (the task asked about) flagged. */
int ac_task_tree_print(FILE *f, json_t *roots, int64_t mark);

#endif
