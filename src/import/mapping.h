/* mapping.h - mapping files: what each column of a channel export means.
 *
 * The format is documented in docs/import.md. A mapping is compiled once, then
 * bound to a file's header row (mapping_bind), which gives every column index its
 * role. Values are parsed with the mapping's time zone, time formats and money
 * conventions. */
#ifndef CUSTOS_MAPPING_H
#define CUSTOS_MAPPING_H

#include "core/common.h"
#include "import/csv.h"

#define MAPPING_MAX_BYTES       (256 * 1024) /* a mapping file */
#define MAPPING_MAX_COLUMNS     256          /* columns a mapping may name */
#define MAPPING_MAX_KEY_COLUMNS 8            /* columns in a record key */
#define MAPPING_MAX_FORMATS     8            /* time formats */
#define MAPPING_MAX_SYMBOLS     16           /* currency symbols */

enum mapping_format { MAPPING_CSV, MAPPING_JSONL };

enum record_kind_import {
    KIND_CONTACT,
    KIND_ORDER,
    KIND_ORDER_LINE,
    KIND_TICKET,
    KIND_REVIEW,
    KIND_COUNT
};

enum column_role {
    ROLE_IGNORE,
    ROLE_IDENTIFIER, /* name: the identifier type */
    ROLE_TRAIT,      /* name: the trait */
    ROLE_ORDER,      /* name: order_id, amount, currency, time, status, channel, store */
    ROLE_LINE,       /* name: sku, name, category, quantity, unit_price, amount */
    ROLE_FIELD,      /* name: a ticket or review field; "time" is the record's time */
};

struct mapping_column {
    char *header;
    enum column_role role;
    char *name;
    bool required;
};

struct money_symbol {
    char *symbol, *currency;
};

struct mapping {
    enum mapping_format format;
    enum csv_encoding encoding;
    char delimiter;
    enum record_kind_import kind;
    char *key_columns[MAPPING_MAX_KEY_COLUMNS];
    size_t nkey;
    int tz_offset_min; /* minutes east of UTC for times without an offset */
    char *time_formats[MAPPING_MAX_FORMATS];
    size_t nformats;
    char *currency; /* default currency (ISO 4217) */
    char decimal, thousands;
    struct money_symbol symbols[MAPPING_MAX_SYMBOLS];
    size_t nsymbols;
    struct mapping_column columns[MAPPING_MAX_COLUMNS];
    size_t ncolumns;
};

/* Names of kinds ("contact", "order", ...). */
const char *mapping_kind_name(enum record_kind_import k);

/* Reads and compiles the mapping file at path into *out (free with mapping_free).
 * Errors name the file and the key ("columns.金额: unknown role \"amout\""). */
int mapping_load(const char *path, struct mapping **out, struct err *e);
int mapping_compile(const char *json, size_t len, struct mapping **out, struct err *e);
void mapping_free(struct mapping *m);

/* A mapping bound to one file's header: for every column of the file, the mapping
 * column it is (or NULL), and where the key columns are. */
struct mapping_binding {
    const struct mapping *m;
    const struct mapping_column **by_index; /* nfields entries */
    size_t nfields;
    int key_index[MAPPING_MAX_KEY_COLUMNS];
};

/* Binds m to a header row. Every key column and every required column must be in
 * the header (ERR_INVALID naming the missing one). Free with mapping_unbind. */
int mapping_bind(const struct mapping *m, const struct csv_row *header, struct mapping_binding *b,
                 struct err *e);
void mapping_unbind(struct mapping_binding *b);

/* Parses a time written text[0..len) under m: ISO 8601 first, then each of m's
 * formats, with m's time zone when the text has no offset. 0 and *ms, or
 * ERR_INVALID. */
int mapping_parse_time(const struct mapping *m, const char *text, size_t len, int64_t *ms);

/* Parses an amount ("¥1,299.50", "1299.5", "USD 12", "-3") into minor units (two
 * decimals) and its currency (a symbol's, or m's default; cur must hold 8 bytes).
 * 0, or ERR_INVALID (not a number, more than two decimals, out of range). */
int mapping_parse_money(const struct mapping *m, const char *text, size_t len, int64_t *minor,
                        char cur[8]);

#endif
