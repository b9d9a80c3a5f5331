/* config.h - every setting of Custos in one table (Redis's config.c idea).
 *
 * The table drives the config file parser, CUSTOS_* environment overrides, the
 * --flag overrides every verb accepts, `custos config show` and docs/configuration.md.
 * Precedence, lowest first: built-in default, config file (custos.conf in the
 * working directory, or the file named by --config / CUSTOS_CONFIG), environment
 * (CUSTOS_DB, CUSTOS_LISTEN, ...), flags (--db PATH, --listen HOST:PORT, ...). */
#ifndef CUSTOS_CONFIG_H
#define CUSTOS_CONFIG_H

#include "core/common.h"

struct config {
    char *db;                      /* database: a SQLite file path */
    char *listen;                  /* HOST:PORT of the HTTP server */
    char *log_level;               /* debug | info | warn | error */
    char *synchronous;             /* full | normal: fsync per commit, or per checkpoint */
    long max_queue;                /* messages waiting for commit before answering 429 */
    long max_connections;          /* simultaneous HTTP connections */
    long request_timeout;          /* seconds an idle connection is kept */
    long shutdown_timeout;         /* seconds SIGTERM waits for in-flight requests */
    char *identity_types;          /* identifier types in priority order, with per-profile limits */
    char *identity_blocked;        /* values that never link profiles */
    long quality_min_completeness; /* percent: a field filled in less often is an alert */
    long quality_min_validity;     /* percent: a field whose values pass less often is one */
    long quality_max_age_hours;    /* a source whose newest row is older is one */
    char *tags;                    /* rule-based tags: "name: expression; ..." */
    long segment_refresh_ms;       /* serve: snapshot and segment refresh period */
};

/* The settings in force; valid after config_load(). */
extern struct config cfg;

/* Loads defaults, then the config file, the environment and the flags in argv.
 * Recognised flags (--NAME VALUE, --NAME=VALUE, and --config FILE) are removed from
 * argv and *argc is updated; everything else is left for the verb. A missing default
 * config file is not an error; a named one that is missing is. Returns 0, or
 * ERR_INVALID / ERR_IO with the reason (which names the setting and where it came
 * from) in e. */
int config_load(int *argc, char **argv, struct err *e);

/* Prints every setting with its value and origin (secrets shown as "(set)"):
 * a table, or one JSON object when json is true. */
void config_show(FILE *out, bool json);

/* Prints docs/configuration.md's table of settings (Markdown). */
void config_print_markdown(FILE *out);

/* Prints the settings as --flag lines for a verb's --help. */
void config_print_flags(FILE *out);

/* Frees what config_load allocated. */
void config_release(void);

#endif
