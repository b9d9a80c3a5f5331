/* store_sqlite_privacy.h - the SQLite backend's privacy operations (migration 0010),
 * kept apart from store_sqlite.c; they fill the privacy slots of its ops table. See
 * store.h for what each does. */
#ifndef CUSTOS_STORE_SQLITE_PRIVACY_H
#define CUSTOS_STORE_SQLITE_PRIVACY_H

#include <sqlite3.h>

#include "store/store.h"

/* The connection of a SQLite store (defined in store_sqlite.c). */
sqlite3 *store_sqlite_db(struct store *st);

/* The current row of q as a JSON object named by its columns: numbers, nulls, text,
 * and text that parses as a JSON object or array nested as JSON (store_sqlite.c). */
/* Text column i of q (row id in column 0) in clear (store_set_unseal); *tmp, set when
 * a copy was made, is freed by the caller after using the text. */
const char *store_sqlite_clear_text(sqlite3_stmt *q, int i, size_t *len, char **tmp,
                                    const char *table);

/* An identifier's value as the person gave it (standardized): its token (opened by
 * store_sqlite_row_json) when it is stored by its blind index (migration 0012). */
#define STORE_IDENT_CLEAR                                                                          \
    "coalesce((SELECT t.token FROM identifier_tokens t WHERE t.value = identifiers.value), "       \
    "identifiers.value)"

struct cJSON;
struct cJSON *store_sqlite_row_json(sqlite3_stmt *q);

int sqp_privacy_secret(struct store *st, const char *name, unsigned char out[32], struct err *e);
int sqp_suppression_add(struct store *st, const unsigned char hash[32], const char *type,
                        int64_t now, struct err *e);
int sqp_suppression_scan(struct store *st, store_suppression_cb cb, void *ctx, struct err *e);
int sqp_suppression_count(struct store *st, int64_t *n, struct err *e);
int sqp_profile_family(struct store *st, int64_t profile_id, int64_t *live, store_id_cb cb,
                       void *ctx, struct err *e);
int sqp_profile_identifiers(struct store *st, int64_t profile_id, store_identifier_cb cb, void *ctx,
                            struct err *e);
int sqp_privacy_export(struct store *st, int64_t live, void **json, struct err *e);
int sqp_privacy_unresolved(struct store *st, store_event_cb on_event, store_import_row_cb on_record,
                           void *ctx, struct err *e);
int sqp_privacy_erase(struct store *st, int64_t live, struct erase_counts *n, struct err *e);
int sqp_privacy_delete_row(struct store *st, const char *table, int64_t id, struct err *e);
int sqp_privacy_compact(struct store *st, bool vacuum, struct err *e);
int sqp_consent_put(struct store *st, struct consent_row *c, struct err *e);
int sqp_consent_scan(struct store *st, int64_t live, store_consent_cb cb, void *ctx, struct err *e);
int sqp_consent_events(struct store *st, int64_t after_id, store_event_cb cb, void *ctx,
                       struct err *e);
int sqp_privacy_state_get(struct store *st, const char *name, int64_t *v, struct err *e);
int sqp_privacy_state_set(struct store *st, const char *name, int64_t v, struct err *e);
int sqp_identifier_token_put(struct store *st, const char *value, const char *type,
                             const char *token, struct err *e);
int sqp_sealed_scan(struct store *st, const char *what, int64_t after_id, int64_t limit,
                    store_sealed_cb cb, void *ctx, struct err *e);
int sqp_sealed_update(struct store *st, const char *what, int64_t id, const char *text, size_t len,
                      struct err *e);
int sqp_retention_sweep(struct store *st, const char *category, int64_t cutoff, bool dry_run,
                        int64_t *n, struct err *e);

#endif
