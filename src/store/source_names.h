/* source_names.h - source id <-> name lookups for code that prints stored rows. */
#ifndef CUSTOS_SOURCE_NAMES_H
#define CUSTOS_SOURCE_NAMES_H

#include "store/store.h"

struct source_names;

/* Loads every source's id and name. Free with source_names_free. */
int source_names_load(struct store *st, struct source_names **out, struct err *e);
void source_names_free(struct source_names *n);

/* The name of source id, or "?" when unknown. */
const char *source_names_get(const struct source_names *n, int64_t id);

/* The id of the source called name, or 0. */
int64_t source_names_find(const struct source_names *n, const char *name);

/* The stored plan text of source id (NULL: none). */
const char *source_names_plan(const struct source_names *n, int64_t id);

#endif
