/* keys.c - `custos keys add|list|revoke|budget`: API keys of the read API and their
 * privacy budgets (privacy/dp.h); `custos keys rotate`: a new data-key version for
 * encryption at rest. */
#include <cJSON.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/timeutil.h"
#include "http/api_key.h"
#include "privacy/audit.h"
#include "privacy/dp.h"
#include "privacy/seal.h"

static int keys_add(int argc, char **argv)
{
    const char *role = NULL, *name = NULL, *expires = NULL;
    size_t npos;
    const struct cli_opt opts[] = {
        {"role", &role, NULL}, {"name", &name, NULL}, {"expires", &expires, NULL}};
    int rc = cli_parse("keys", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    if (!role)
        return cli_usage("keys", "add needs --role admin|analyst|marketing|service|risk");
    if (!api_key_role_valid(role))
        return cli_usage("keys",
                         "unknown role \"%s\": say admin, analyst, marketing, service "
                         "or risk",
                         role);
    int64_t days = -1;
    if (expires && (rc = cli_parse_count("keys", "expires", expires, &days)))
        return rc;
    if (days > API_KEY_MAX_DAYS)
        return cli_usage("keys", "--expires is at most %d days", API_KEY_MAX_DAYS);
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct err e = {0};
    char key[API_KEY_CHARS + 1];
    int64_t id = 0;
    rc = st->ops->begin(st, &e);
    if (!rc)
        rc = api_key_create(st, name, role, days, key, &id, &e);
    char subject[32], detail[96];
    snprintf(subject, sizeof(subject), "key:%" PRId64, id);
    snprintf(detail, sizeof(detail), "{\"role\":\"%s\",\"expires_days\":%" PRId64 "}", role, days);
    rc = cli_audited(st, rc, AUDIT_KEY_ADD, subject, detail, &e);
    store_close(st);
    if (rc == ERR_INVALID)
        return cli_usage("keys", "%s", e.msg);
    if (rc)
        return cli_fail("%s", e.msg);
    printf("%s\n", key);
    fprintf(stderr, "custos: API key %" PRId64 " (%s) created; it is shown only this once\n", id,
            role);
    return EXIT_OK;
}

static int list_one(const struct api_key *k, void *arg)
{
    struct cli_table *t = arg;
    char id[24], hint[24], created[32], expires[32] = "", revoked[32] = "";
    snprintf(id, sizeof(id), "%" PRId64, k->id);
    snprintf(hint, sizeof(hint), "%s...", k->key_hint ? k->key_hint : "");
    time_format_iso8601(k->created_at, created);
    if (k->expires_at != STORE_NULL_TIME)
        time_format_iso8601(k->expires_at, expires);
    if (k->revoked_at != STORE_NULL_TIME)
        time_format_iso8601(k->revoked_at, revoked);
    const char *row[] = {id, k->name ? k->name : "", k->role, hint, created, expires, revoked};
    cli_table_add(t, row);
    return 0;
}

static int keys_list(int argc, char **argv)
{
    bool json = false, csv = false;
    size_t npos;
    const struct cli_opt opts[] = {{"json", NULL, &json}, {"csv", NULL, &csv}};
    int rc = cli_parse("keys", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    static const char *const headers[] = {"id",      "name",    "role",   "key",
                                          "created", "expires", "revoked"};
    struct cli_table *t = cli_table_new(ARRAY_SIZE(headers), headers);
    struct err e = {0};
    rc = st->ops->api_key_list(st, list_one, t, &e);
    store_close(st);
    if (rc) {
        cli_table_free(t);
        return cli_fail("%s", e.msg);
    }
    cli_table_print(t, stdout, json ? FORMAT_JSON : csv ? FORMAT_CSV : FORMAT_TABLE);
    cli_table_free(t);
    return EXIT_OK;
}

static int keys_revoke(int argc, char **argv)
{
    const char *pos[1];
    size_t npos;
    int rc = cli_parse("keys", argc, argv, NULL, 0, pos, 1, &npos);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage("keys", "revoke needs a key ID (see custos keys list)");
    int64_t id;
    if ((rc = cli_parse_count("keys", "ID", pos[0], &id)))
        return rc;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct err e = {0};
    rc = st->ops->begin(st, &e);
    if (!rc)
        rc = st->ops->api_key_revoke(st, id, time_now_ms(), &e);
    char subject[32];
    snprintf(subject, sizeof(subject), "key:%" PRId64, id);
    rc = cli_audited(st, rc, AUDIT_KEY_REVOKE, subject, NULL, &e);
    store_close(st);
    if (rc)
        return cli_fail("%s", e.msg);
    fprintf(stderr, "custos: API key %" PRId64 " revoked\n", id);
    return EXIT_OK;
}

struct key_search {
    int64_t id;
    bool found;
};

/* Finds key id among the keys (revoked ones too). */
static int find_key(const struct api_key *k, void *arg)
{
    struct key_search *want = arg;
    if (k->id == want->id)
        want->found = true;
    return 0;
}

static int keys_budget(int argc, char **argv)
{
    const char *set = NULL, *pos[1];
    bool reset = false, json = false, csv = false, def = false;
    size_t npos;
    const struct cli_opt opts[] = {{"set", &set, NULL},
                                   {"default", NULL, &def},
                                   {"reset", NULL, &reset},
                                   {"json", NULL, &json},
                                   {"csv", NULL, &csv}};
    int rc = cli_parse("keys", argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage("keys", "budget needs a key ID (see custos keys list)");
    int64_t id;
    if ((rc = cli_parse_count("keys", "ID", pos[0], &id)))
        return rc;
    struct err e = {0};
    double budget = -1, def_budget;
    if (set && dp_budget_parse(set, &budget, &e))
        return cli_usage("keys", "--set: %s", e.msg + strlen("dp-budget: "));
    if (set && def)
        return cli_usage("keys", "say --set E or --default, not both");
    if (dp_budget_parse(cfg.dp_budget, &def_budget, &e))
        return cli_usage("keys", "%s", e.msg);
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct key_search found = {.id = id};
    rc = st->ops->api_key_list(st, find_key, &found, &e);
    if (!rc && !found.found)
        rc = err_set(&e, ERR_NOTFOUND, "no API key %" PRId64 " (see custos keys list)", id);
    if (!rc && (set || def || reset)) {
        rc = st->ops->begin(st, &e);
        if (!rc)
            rc = st->ops->dp_budget_set(st, id, budget, reset, time_now_ms(), &e);
        char subject[32], detail[96];
        snprintf(subject, sizeof(subject), "key:%" PRId64, id);
        if (set)
            snprintf(detail, sizeof(detail), "{\"budget\":%g,\"reset\":%s}", budget,
                     reset ? "true" : "false");
        else
            snprintf(detail, sizeof(detail), "{\"budget\":null,\"reset\":%s}",
                     reset ? "true" : "false");
        rc = cli_audited(st, rc, AUDIT_KEY_BUDGET, subject, detail, &e);
    }
    double spent = 0, total = 0;
    bool own = false;
    if (!rc)
        rc = st->ops->dp_budget_get(st, id, def_budget, &spent, &total, &own, &e);
    store_close(st);
    if (rc)
        return cli_fail("%s", e.msg);
    static const char *const headers[] = {"key", "budget", "spent", "remaining", "budget_from"};
    struct cli_table *t = cli_table_new(ARRAY_SIZE(headers), headers);
    char c[4][32];
    snprintf(c[0], sizeof(c[0]), "%" PRId64, id);
    snprintf(c[1], sizeof(c[1]), "%g", total);
    snprintf(c[2], sizeof(c[2]), "%g", spent);
    snprintf(c[3], sizeof(c[3]), "%g", total - spent > 0 ? total - spent : 0);
    const char *row[] = {c[0], c[1], c[2], c[3], own ? "key" : "dp-budget setting"};
    cli_table_add(t, row);
    cli_table_print(t, stdout, json ? FORMAT_JSON : csv ? FORMAT_CSV : FORMAT_TABLE);
    cli_table_free(t);
    return EXIT_OK;
}

#define ROTATE_BATCH  500 /* rows re-encrypted per transaction: short, so serve keeps writing */
#define ROTATE_WAIT_S 2   /* serve reads the version every second: new tokens follow it */

struct rekeyed {
    int64_t id;
    char *text;
    size_t len;
};

struct rotate_batch {
    struct rekeyed v[ROTATE_BATCH];
    size_t n;
    int64_t last;
    size_t tokens;
    int rc;
};

static int rotate_row(int64_t id, const char *text, size_t len, const char *field, void *ctx)
{
    struct rotate_batch *b = ctx;
    b->last = id;
    char *out = NULL;
    size_t out_len = 0, tokens = 0;
    if (seal_rekey_text(text, len, field, &out, &out_len, &tokens)) {
        b->rc = ERR_INVALID;
        return ERR_INVALID;
    }
    if (out) {
        b->v[b->n++] = (struct rekeyed){id, out, out_len};
        b->tokens += tokens;
    }
    return 0;
}

/* Re-encrypts one sealed column in batches of short transactions; adds the tokens
 * changed to *tokens. */
static int rotate_column(struct store *st, const char *what, bool progress, uint64_t *tokens,
                         struct err *e)
{
    int64_t after = 0;
    for (;;) {
        struct rotate_batch *b = calloc(1, sizeof(*b));
        if (!b)
            return err_set(e, ERR_NOMEM, "out of memory");
        int rc = st->ops->sealed_scan(st, what, after, ROTATE_BATCH, rotate_row, b, e);
        if (b->rc)
            rc = err_set(e, ERR_INVALID,
                         "%s row %" PRId64 ": a stored token does not decrypt with this master "
                         "key (another key, or damaged)",
                         what, b->last);
        bool done = b->last == 0 || b->last == after;
        after = b->last;
        if (!rc && b->n && !(rc = st->ops->begin(st, e))) {
            for (size_t i = 0; i < b->n && !rc; i++)
                rc = st->ops->sealed_update(st, what, b->v[i].id, b->v[i].text, b->v[i].len, e);
            rc = rc ? rc : st->ops->commit(st, e);
            if (rc)
                st->ops->rollback(st);
        }
        if (!rc)
            *tokens += b->tokens;
        for (size_t i = 0; i < b->n; i++)
            free(b->v[i].text);
        free(b);
        if (progress)
            fprintf(stderr, "\rkeys rotate: %s up to row %" PRId64 ", %" PRIu64 " tokens   ", what,
                    after, *tokens);
        if (rc || done)
            return rc;
    }
}

static int keys_rotate(int argc, char **argv)
{
    bool json = false;
    size_t npos;
    const struct cli_opt opts[] = {{"json", NULL, &json}};
    int rc = cli_parse("keys", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    if (!seal_on()) {
        store_close(st);
        return cli_usage("keys", "rotate re-encrypts stored values: encryption is off (set "
                                 "encryption and master-key-file)");
    }
    struct err e = {0};
    unsigned from = seal_version(), to = from + 1;
    char detail[96];
    snprintf(detail, sizeof(detail), "{\"from_version\":%u,\"to_version\":%u}", from, to);
    rc = st->ops->begin(st, &e);
    if (!rc)
        rc = st->ops->privacy_state_set(st, "data-key-version", (int64_t)to, &e);
    rc = cli_audited(st, rc, AUDIT_KEY_ROTATE, "data-key", detail, &e);
    if (rc) {
        store_close(st);
        return cli_fail("%s", e.msg);
    }
    seal_set_version(to);
    bool progress = cli_progress_wanted();
    if (progress)
        fprintf(stderr,
                "keys rotate: data-key version %u is current; waiting %d s for running "
                "servers to follow\n",
                ROTATE_WAIT_S, (int)ROTATE_WAIT_S);
    sleep(ROTATE_WAIT_S);
    static const char *const columns[] = {"events.raw",          "quarantine.raw",
                                          "records.identifiers", "records.traits",
                                          "records.fields",      "identifier_tokens.token"};
    uint64_t total = 0, pass_tokens = 0;
    int passes = 0;
    /* Passes until one changes nothing: what a server wrote under the old version
     * before it followed is caught by the next pass. */
    do {
        pass_tokens = 0;
        for (size_t i = 0; i < ARRAY_SIZE(columns) && !rc; i++)
            rc = rotate_column(st, columns[i], progress, &pass_tokens, &e);
        total += pass_tokens;
        passes++;
    } while (!rc && pass_tokens > 0 && passes < 10);
    store_close(st);
    if (progress)
        fputc('\n', stderr);
    if (rc)
        return cli_fail("%s (version %u is current; run custos keys rotate again to finish)", e.msg,
                        to);
    if (json)
        printf("{\"version\":%u,\"previous\":%u,\"tokens\":%" PRIu64 ",\"passes\":%d}\n", to, from,
               total, passes);
    else
        printf("data-key version %u is current: %" PRIu64
               " tokens re-encrypted from older versions in %d passes\n",
               to, total, passes);
    return EXIT_OK;
}

int cmd_keys(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("keys", "say add, list, revoke, budget or rotate");
    if (strcmp(argv[1], "add") == 0)
        return keys_add(argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return keys_list(argc - 1, argv + 1);
    if (strcmp(argv[1], "revoke") == 0)
        return keys_revoke(argc - 1, argv + 1);
    if (strcmp(argv[1], "budget") == 0)
        return keys_budget(argc - 1, argv + 1);
    if (strcmp(argv[1], "rotate") == 0)
        return keys_rotate(argc - 1, argv + 1);
    return cli_usage("keys", "unknown action \"%s\": say add, list, revoke, budget or rotate",
                     argv[1]);
}
