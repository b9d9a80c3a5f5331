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
    char *tls_cert, *tls_key;      /* serve: PEM files; both set: HTTPS */
    char *identity_types;          /* identifier types in priority order, with per-profile limits */
    char *identity_blocked;        /* values that never link profiles */
    char *resolve_incremental;     /* on | off: serve and import resolve new rows as they come */
    char *identity_match;          /* on | off: the probabilistic stage of resolve */
    long identity_match_link;      /* per mille: posterior at which a pair links */
    long identity_match_review;    /* per mille: posterior from which it is reviewed */
    long identity_detect_names;    /* distinct names that make a value a shared one; 0 off */
    long quality_min_completeness; /* percent: a field filled in less often is an alert */
    long quality_min_validity;     /* percent: a field whose values pass less often is one */
    long quality_max_age_hours;    /* a source whose newest row is older is one */
    char *classification;          /* field:class entries over the built-in table */
    char *cli_role;                /* the role CLI reads act with */
    char *role_policy;             /* role:class:action entries over the built-in table */
    char *dp_budget;               /* epsilon each API key may spend in all */
    char *analytics_time_zone;     /* UTC or +HH:MM: the analytics' calendar */
    char *dp_clamp;                /* LO:HI: a profile's money per cell in a private sum */
    long dp_max_orders;            /* a profile's orders per cell in a private count */
    long quality_max_duplicate_before; /* percent: identifier values shared, as written */
    long quality_max_duplicate_after;  /* percent: resolved rows sharing a profile */
    long quality_interval;             /* serve: seconds between quality measurements */
    char *survivorship;                /* per-trait rules choosing golden values */
    char *profile_cache;               /* serve: on | off */
    char *consent_categories;          /* category:purpose entries over the built-in table */
    char *consent_default;             /* denied | granted: a purpose never decided */
    long consent_sync_interval;        /* serve: seconds between consent reads of messages */
    char *retention;                   /* category:age entries; empty keeps everything */
    long retention_interval;           /* serve: seconds between retention sweeps */
    char *tags;                        /* rule-based tags: "name: expression; ..." */
    long segment_refresh_ms;           /* serve: snapshot and segment refresh period */
    char *encryption;      /* off | core-sensitive | sensitive: classes encrypted at rest */
    char *master_key_file; /* 0600 file holding the master key */
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
