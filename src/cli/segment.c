/* segment.c - `custos segment create|list|show|members|refresh|delete`: segments in
 * the segment language (docs/segments.md), evaluated on the analytics snapshot, with
 * their memberships and entry and exit times kept in the store. */
#include <cJSON.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/timeutil.h"
#include "privacy/audit.h"
#include "privacy/consent.h"
#include "segment/segment.h"

#define VERB "segment"

static enum cli_format format_of(bool json, bool csv)
{
    return json ? FORMAT_JSON : csv ? FORMAT_CSV : FORMAT_TABLE;
}

/* Prints a syntax error with a caret under the column. */
static int syntax_error(const char *sub, const char *expr, int column, const char *msg)
{
    fprintf(stderr, "custos %s: syntax error at %s\n  %s\n  ", sub, msg, expr);
    for (int i = 1; i < column; i++)
        fputc(' ', stderr);
    fprintf(stderr, "^\n(see docs/segments.md or custos segment --help)\n");
    return EXIT_USAGE;
}

static void format_time(int64_t ms, char out[32])
{
    if (ms == STORE_NULL_TIME)
        snprintf(out, 32, "-");
    else
        time_format_iso8601(ms, out);
}

/* Loads the snapshot and evaluates every segment and tag; prints what changed on
 * stderr when verbose. */
static int refresh(struct store *st, int64_t eval_now, bool verbose)
{
    struct err e = {0};
    struct snapshot *s = snapshot_new();
    if (!s)
        return cli_fail("out of memory for the snapshot");
    int rc = 0;
    struct segment_refresh_stats stats;
    if (snapshot_refresh(s, st, NULL, &e) ||
        segment_refresh(st, s, cfg.tags, eval_now, time_now_ms(), &stats, &e))
        rc = cli_fail("%s", e.msg);
    else if (verbose)
        fprintf(stderr, "%" PRId64 " segments evaluated: %" PRId64 " entries, %" PRId64 " exits\n",
                stats.segments, stats.entered, stats.exited);
    snapshot_free(s);
    return rc;
}

static int parse_as_of(const char *sub, const char *as_of, int64_t *now)
{
    *now = time_now_ms();
    if (as_of && time_parse_iso8601(as_of, strlen(as_of), now))
        return cli_usage(sub, "--as-of must be a date such as 2025-12-31, not \"%s\"", as_of);
    return 0;
}

struct found {
    bool any;
    int64_t id, members, evaluated_at, created_at;
    char *expr;
};

static int found_row(const struct segment_row *r, void *ctx)
{
    struct found *f = ctx;
    f->any = true;
    f->id = r->id;
    f->members = r->members;
    f->evaluated_at = r->evaluated_at;
    f->created_at = r->created_at;
    free(f->expr);
    f->expr = strdup(r->expr);
    return 0;
}

static bool valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 100 || strncmp(name, "tag:", 4) == 0)
        return false;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return false;
    return true;
}

static int run_create(struct store *st, int argc, char **argv)
{
    const char *sub = VERB " create", *as_of = NULL;
    const char *pos[2];
    size_t npos;
    const struct cli_opt opts[] = {{"as-of", &as_of, NULL}};
    int rc = cli_parse(sub, argc, argv, opts, ARRAY_SIZE(opts), pos, 2, &npos);
    if (rc)
        return rc;
    if (npos != 2)
        return cli_usage(sub, "give a NAME and an 'EXPRESSION'");
    if (!valid_name(pos[0]))
        return cli_usage(sub, "a segment's name is 1 to 100 characters, not starting with tag:");
    struct seg_expr *x;
    struct err e = {0};
    int column;
    if (seg_parse(pos[1], &x, &column, &e))
        return column ? syntax_error(sub, pos[1], column, e.msg) : cli_usage(sub, "%s", e.msg);
    seg_expr_free(x);
    int64_t now;
    if ((rc = parse_as_of(sub, as_of, &now)))
        return rc;
    if (st->ops->segment_put(st, pos[0], pos[1], time_now_ms(), &e))
        return cli_fail("%s", e.msg);
    if ((rc = refresh(st, now, false)))
        return rc;
    struct found f = {0};
    if (st->ops->segment_list(st, pos[0], found_row, &f, &e))
        return cli_fail("%s", e.msg);
    printf("segment %s: %" PRId64 " members\n", pos[0], f.members);
    free(f.expr);
    return EXIT_OK;
}

struct list_ctx {
    struct cli_table *t;
};

static int list_row(const struct segment_row *r, void *ctx)
{
    struct list_ctx *l = ctx;
    char members[24], ev[32];
    snprintf(members, sizeof(members), "%" PRId64, r->members);
    format_time(r->evaluated_at, ev);
    const char *cells[] = {r->name, members, ev, r->expr};
    cli_table_add(l->t, cells);
    return 0;
}

static int run_list(struct store *st, int argc, char **argv)
{
    const char *sub = VERB " list", *as_of = NULL;
    bool json = false, csv = false;
    const struct cli_opt opts[] = {
        {"as-of", &as_of, NULL}, {"json", NULL, &json}, {"csv", NULL, &csv}};
    size_t npos;
    int rc = cli_parse(sub, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    int64_t now;
    if (rc || (rc = parse_as_of(sub, as_of, &now)) || (rc = refresh(st, now, false)))
        return rc;
    static const char *const heads[] = {"name", "members", "evaluated_at", "expression"};
    struct list_ctx l = {.t = cli_table_new(4, heads)};
    struct err e = {0};
    if (st->ops->segment_list(st, NULL, list_row, &l, &e))
        rc = cli_fail("%s", e.msg);
    else
        cli_table_print(l.t, stdout, format_of(json, csv));
    cli_table_free(l.t);
    return rc;
}

struct member_ctx {
    struct cli_table *t;
    int64_t n, exits;
};

static int member_row(const struct membership_row *r, void *ctx)
{
    struct member_ctx *m = ctx;
    m->n++;
    if (r->exited_at != STORE_NULL_TIME)
        m->exits++;
    if (!m->t)
        return 0;
    char p[24], in[32], out[32];
    snprintf(p, sizeof(p), "%" PRId64, r->profile_id);
    format_time(r->entered_at, in);
    format_time(r->exited_at, out);
    const char *cells[] = {p, in, out};
    cli_table_add(m->t, cells);
    return 0;
}

static int run_show_or_members(struct store *st, int argc, char **argv, bool members)
{
    const char *sub = members ? VERB " members" : VERB " show", *as_of = NULL;
    bool json = false, csv = false, all = false;
    const struct cli_opt opts[] = {
        {"as-of", &as_of, NULL}, {"json", NULL, &json}, {"csv", NULL, &csv}, {"all", NULL, &all}};
    const char *pos[1];
    size_t npos;
    int rc = cli_parse(sub, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage(sub, "which segment? give its NAME");
    int64_t now;
    if ((rc = parse_as_of(sub, as_of, &now)) || (rc = refresh(st, now, false)))
        return rc;
    struct found f = {0};
    struct err e = {0};
    if (st->ops->segment_list(st, pos[0], found_row, &f, &e))
        return cli_fail("%s", e.msg);
    if (!f.any)
        return cli_fail("no segment named \"%s\" (custos segment list)", pos[0]);
    static const char *const heads[] = {"profile", "entered_at", "exited_at"};
    struct member_ctx m = {.t = members ? cli_table_new(3, heads) : NULL};
    if (st->ops->segment_members(st, f.id, all || !members, member_row, &m, &e)) {
        rc = cli_fail("%s", e.msg);
    } else if (members) {
        cli_table_print(m.t, stdout, format_of(json, csv));
    } else {
        char created[32], ev[32];
        format_time(f.created_at, created);
        format_time(f.evaluated_at, ev);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", pos[0]);
            cJSON_AddStringToObject(o, "expression", f.expr);
            cJSON_AddNumberToObject(o, "members", (double)f.members);
            cJSON_AddStringToObject(o, "created_at", created);
            cJSON_AddStringToObject(o, "evaluated_at", ev);
            cJSON_AddNumberToObject(o, "entries", (double)m.n);
            cJSON_AddNumberToObject(o, "exits", (double)m.exits);
            char *txt = cJSON_Print(o);
            printf("%s\n", txt ? txt : "{}");
            free(txt);
            cJSON_Delete(o);
        } else {
            printf("name          %s\nexpression    %s\nmembers       %" PRId64
                   "\ncreated_at    %s\nevaluated_at  %s\nentries       %" PRId64
                   "  (all time)\nexits         %" PRId64 "\n",
                   pos[0], f.expr, f.members, created, ev, m.n, m.exits);
        }
    }
    cli_table_free(m.t);
    free(f.expr);
    return rc;
}

/* `segment export`: the members that may be used for a purpose, as CSV, for use
 * outside Custos. Profiles without the purpose's consent (privacy/consent.h; undecided
 * ones follow consent-default) are left out and counted; the export is audited. */
struct export_ctx {
    struct store *st;
    enum consent_purpose purpose;
    FILE *out;
    int64_t written, left_out;
};

static int export_row(const struct membership_row *r, void *ctx)
{
    struct export_ctx *x = ctx;
    if (consent_allows(x->st, r->profile_id, x->purpose) != 1) {
        x->left_out++;
        return 0;
    }
    char in[32];
    format_time(r->entered_at, in);
    fprintf(x->out, "%" PRId64 ",%s\n", r->profile_id, in);
    x->written++;
    return 0;
}

static int run_export(struct store *st, int argc, char **argv)
{
    const char *sub = VERB " export", *purpose = NULL, *out = NULL, *as_of = NULL;
    const struct cli_opt opts[] = {
        {"purpose", &purpose, NULL}, {"out", &out, NULL}, {"as-of", &as_of, NULL}};
    const char *pos[1];
    size_t npos;
    int rc = cli_parse(sub, argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage(sub, "which segment? give its NAME");
    struct err e = {0};
    struct export_ctx x = {.st = st};
    if (!purpose)
        return cli_usage(sub, "--purpose is required (analytics, marketing, personalization or "
                              "third_party): members without its consent are left out");
    if (consent_purpose_parse(purpose, &x.purpose, &e))
        return cli_usage(sub, "%s", e.msg);
    int64_t now;
    if ((rc = parse_as_of(sub, as_of, &now)) || (rc = refresh(st, now, false)))
        return rc;
    struct found f = {0};
    if (st->ops->segment_list(st, pos[0], found_row, &f, &e))
        return cli_fail("%s", e.msg);
    if (!f.any)
        return cli_fail("no segment named \"%s\" (custos segment list)", pos[0]);
    free(f.expr);
    x.out = out ? fopen(out, "w") : stdout;
    if (!x.out)
        return cli_fail("cannot write %s: %s", out, strerror(errno));
    fputs("profile,entered_at\n", x.out);
    rc = st->ops->segment_members(st, f.id, false, export_row, &x, &e);
    if (out && fclose(x.out) != 0 && !rc)
        return cli_fail("cannot write %s: %s", out, strerror(errno));
    if (rc)
        return cli_fail("%s", e.msg);
    char subject[160], detail[160];
    snprintf(subject, sizeof(subject), "segment:%.120s", pos[0]);
    snprintf(detail, sizeof(detail),
             "{\"purpose\":\"%s\",\"profiles\":%" PRId64 ",\"left_out\":%" PRId64 "}",
             consent_purpose_name(x.purpose), x.written, x.left_out);
    if (audit_append(st, "cli", AUDIT_EXPORT, subject, detail, &e))
        return cli_fail("the export was written but cannot be audited: %s", e.msg);
    fprintf(stderr,
            "segment %s: %" PRId64 " profiles exported for %s, %" PRId64
            " left out (no %s consent)\n",
            pos[0], x.written, consent_purpose_name(x.purpose), x.left_out,
            consent_purpose_name(x.purpose));
    return EXIT_OK;
}

static int run_refresh(struct store *st, int argc, char **argv)
{
    const char *sub = VERB " refresh", *as_of = NULL;
    const struct cli_opt opts[] = {{"as-of", &as_of, NULL}};
    size_t npos;
    int64_t now;
    int rc = cli_parse(sub, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc || (rc = parse_as_of(sub, as_of, &now)))
        return rc;
    return refresh(st, now, true);
}

static int run_delete(struct store *st, int argc, char **argv)
{
    const char *sub = VERB " delete";
    const char *pos[1];
    size_t npos;
    int rc = cli_parse(sub, argc, argv, NULL, 0, pos, 1, &npos);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage(sub, "which segment? give its NAME");
    struct err e = {0};
    if (st->ops->segment_delete(st, pos[0], &e))
        return cli_fail("%s", e.msg);
    return EXIT_OK;
}

int cmd_segment(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage(VERB, "create, list, show, members, export, refresh or delete?");
    static const char *const subs[] = {"create",  "list",   "show",  "members",
                                       "refresh", "delete", "export"};
    size_t which = ARRAY_SIZE(subs);
    for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
        if (strcmp(argv[1], subs[i]) == 0)
            which = i;
    if (which == ARRAY_SIZE(subs))
        return cli_usage(VERB,
                         "unknown command \"%s\" (create, list, show, members, export, "
                         "refresh, delete)",
                         argv[1]);
    struct store *st;
    int rc = cli_open_store(&st);
    if (rc)
        return rc;
    switch (which) {
    case 0:
        rc = run_create(st, argc - 1, argv + 1);
        break;
    case 1:
        rc = run_list(st, argc - 1, argv + 1);
        break;
    case 2:
    case 3:
        rc = run_show_or_members(st, argc - 1, argv + 1, which == 3);
        break;
    case 4:
        rc = run_refresh(st, argc - 1, argv + 1);
        break;
    case 6:
        rc = run_export(st, argc - 1, argv + 1);
        break;
    default:
        rc = run_delete(st, argc - 1, argv + 1);
    }
    store_close(st);
    return rc;
}
