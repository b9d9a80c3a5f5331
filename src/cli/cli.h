/* cli.h - the verbs of `custos`, one file each, and what they share.
 *
 * Every verb is int cmd_VERB(int argc, char **argv) with argv[0] the verb; settings
 * flags (config.h) are already consumed. It returns the process exit status:
 * 0 success, 1 failure (one line on stderr), 2 bad usage. */
#ifndef CUSTOS_CLI_H
#define CUSTOS_CLI_H

#include "core/common.h"
#include "store/store.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

int cmd_serve(int argc, char **argv);
int cmd_sources(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_quarantine(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_resolve(int argc, char **argv);
int cmd_quality(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_profile_unmerge(int argc, char **argv); /* custos profile unmerge (review.c) */
int cmd_review(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_segment(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_privacy(int argc, char **argv);
/* privacy.c: `custos privacy consent ...` and `custos privacy sweep`. */
int privacy_consent(int argc, char **argv);
int privacy_sweep(int argc, char **argv);

/* One option of a verb: "--name VALUE" (value != NULL) or "--name" (flag != NULL). */
struct cli_opt {
    const char *name; /* without the dashes */
    const char **value;
    bool *flag;
};

/* Parses argv[1..argc) against opts; positional arguments are gathered, in order,
 * into pos (capacity cap) and counted in *npos. Prints a usage error naming the verb
 * and returns EXIT_USAGE for an unknown option, a missing value or too many
 * positionals; 0 otherwise. */
int cli_parse(const char *verb, int argc, char **argv, const struct cli_opt *opts, size_t nopts,
              const char **pos, size_t cap, size_t *npos);

/* Parses a non-negative integer option; EXIT_USAGE with a message if it is not one. */
int cli_parse_count(const char *verb, const char *name, const char *text, int64_t *out);

/* Prints "custos: " and the message to stderr; returns EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "custos VERB: " and the message and a pointer to --help; returns EXIT_USAGE. */
int cli_usage(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether long work shows a progress line (on stderr): only for a person at a
 * terminal, so neither when the output goes to a pipe or file (stdout) nor when the
 * messages are logged (stderr). */
bool cli_progress_wanted(void);

/* Opens the configured store (cfg.db) read-write, printing the reason on failure. */
int cli_open_store(struct store **st);

/* With encryption on, loads the keys for st (privacy/seal.h); without a usable master
 * key prints why (never the key) and returns EXIT_USAGE (the caller closes st). */
int cli_start_encryption(struct store *st);

/* Ends an audited act begun with st->ops->begin: when rc is 0, appends the audit
 * entry (actor "cli") and commits both, then moves the audit head; otherwise, or if
 * that fails, rolls back. Returns rc or the failure, with the reason in e. */
int cli_audited(struct store *st, int rc, const char *action, const char *subject,
                const char *detail, struct err *e);

/* Output format chosen by --json / --csv (tables for people otherwise). */
enum cli_format { FORMAT_TABLE, FORMAT_JSON, FORMAT_CSV };

/* A table printed aligned for people, as CSV, or as JSON lines. Cells are copied. */
struct cli_table;
struct cli_table *cli_table_new(size_t ncols, const char *const *headers);
void cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(struct cli_table *t, FILE *out, enum cli_format fmt);
void cli_table_free(struct cli_table *t);

#endif
