/* review.c - `custos review list|show|accept|reject` (the matcher's review queue) and
 * `custos profile unmerge` (undoing a journaled merge). Both record a decision as a
 * stored link constraint and resolve again, so the decision holds in every later
 * `custos resolve` and the merge or split is journaled like any other. */
#include <cJSON.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/timeutil.h"
#include "identity/resolve.h"

/* A full resolution with the configured rules, after a decision was stored. */
static int resolve_again(struct store *st, struct resolve_stats *s, struct err *e)
{
    struct idgraph_rules rules;
    struct resolve_match match;
    resolve_match_from_config(&match);
    int rc = idgraph_rules_parse(cfg.identity_types, cfg.identity_blocked, &rules, e);
    if (!rc)
        rc = resolve_full(st, &rules, &match, NULL, false, s, e);
    idgraph_rules_release(&rules);
    return rc;
}

/* Who decided: --by, else the login name, else "cli". */
static const char *decider(const char *by)
{
    const char *user = getenv("USER");
    return by ? by : user && *user ? user : "cli";
}

struct pairs_out {
    struct cli_table *t;
    cJSON *one; /* show: the pair as JSON */
    size_t n;
};

static int review_row(const struct review_pair *p, void *ctx)
{
    struct pairs_out *o = ctx;
    char id[24], a[24], b[24], score[32], prob[32], created[32], decided[32] = "";
    snprintf(id, sizeof(id), "%" PRId64, p->id);
    snprintf(a, sizeof(a), "%" PRId64, p->profile_a);
    snprintf(b, sizeof(b), "%" PRId64, p->profile_b);
    snprintf(score, sizeof(score), "%.2f", p->score);
    snprintf(prob, sizeof(prob), "%.4f", p->probability);
    time_format_iso8601(p->created_at, created);
    if (p->decided_at != STORE_NULL_TIME)
        time_format_iso8601(p->decided_at, decided);
    o->n++;
    if (o->t) {
        const char *row[] = {
            id,        a,         b,       score,   prob,
            p->status, p->fields, created, decided, p->decided_by ? p->decided_by : ""};
        cli_table_add(o->t, row);
        return 0;
    }
    cJSON *j = o->one = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)p->id);
    cJSON_AddNumberToObject(j, "profile_a", (double)p->profile_a);
    cJSON_AddNumberToObject(j, "profile_b", (double)p->profile_b);
    cJSON_AddNumberToObject(j, "score", p->score);
    cJSON_AddNumberToObject(j, "probability", p->probability);
    cJSON_AddStringToObject(j, "status", p->status);
    cJSON *f = cJSON_Parse(p->fields);
    cJSON_AddItemToObject(j, "fields", f ? f : cJSON_CreateObject());
    cJSON_AddStringToObject(j, "created_at", created);
    if (decided[0]) {
        cJSON_AddStringToObject(j, "decided_at", decided);
        cJSON_AddStringToObject(j, "decided_by", p->decided_by ? p->decided_by : "");
    }
    return 0;
}

static int review_list(int argc, char **argv)
{
    bool json = false, csv = false, all = false;
    const char *status = NULL;
    size_t npos;
    const struct cli_opt opts[] = {
        {"json", NULL, &json}, {"csv", NULL, &csv}, {"all", NULL, &all}, {"status", &status, NULL}};
    int rc = cli_parse("review", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    if (status && strcmp(status, "pending") != 0 && strcmp(status, "accepted") != 0 &&
        strcmp(status, "rejected") != 0)
        return cli_usage("review", "unknown status \"%s\": say pending, accepted or rejected",
                         status);
    if (!status && !all)
        status = "pending";
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    static const char *const headers[] = {"id",          "profile_a", "profile_b", "score",
                                          "probability", "status",    "fields",    "created",
                                          "decided",     "decided_by"};
    struct pairs_out o = {cli_table_new(ARRAY_SIZE(headers), headers), NULL, 0};
    struct err e = {0};
    rc = st->ops->review_scan(st, 0, all ? NULL : status, review_row, &o, &e);
    store_close(st);
    if (rc) {
        cli_table_free(o.t);
        return cli_fail("%s", e.msg);
    }
    cli_table_print(o.t, stdout, json ? FORMAT_JSON : csv ? FORMAT_CSV : FORMAT_TABLE);
    cli_table_free(o.t);
    if (!json && !csv && !o.n)
        fprintf(stderr, "custos: no %s review pairs\n", all ? "" : status);
    return EXIT_OK;
}

static int parse_id(int argc, char **argv, const char *what, const char **by, int64_t *id)
{
    const char *pos[1];
    size_t npos;
    const struct cli_opt opts[] = {{"by", by, NULL}};
    int rc = cli_parse("review", argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage("review", "%s needs a pair ID (see custos review list)", what);
    return cli_parse_count("review", "ID", pos[0], id);
}

static int review_show(int argc, char **argv)
{
    bool json = false;
    const char *pos[1];
    size_t npos;
    const struct cli_opt opts[] = {{"json", NULL, &json}};
    int rc = cli_parse("review", argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage("review", "show needs a pair ID (see custos review list)");
    int64_t id;
    if ((rc = cli_parse_count("review", "ID", pos[0], &id)))
        return rc;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct pairs_out o = {0};
    struct err e = {0};
    rc = id ? st->ops->review_scan(st, id, NULL, review_row, &o, &e) : 0;
    store_close(st);
    if (rc)
        return cli_fail("%s", e.msg);
    if (!o.one)
        return cli_fail("no review pair %" PRId64, id);
    if (json) {
        char *t = cJSON_PrintUnformatted(o.one);
        if (t)
            puts(t);
        cJSON_free(t);
    } else {
        printf("review pair %" PRId64 ": profiles %.0f and %.0f, %s\n", id,
               cJSON_GetNumberValue(cJSON_GetObjectItem(o.one, "profile_a")),
               cJSON_GetNumberValue(cJSON_GetObjectItem(o.one, "profile_b")),
               cJSON_GetStringValue(cJSON_GetObjectItem(o.one, "status")));
        printf("score %.2f (sum of log2(m/u)), posterior match probability %.4f\n",
               cJSON_GetNumberValue(cJSON_GetObjectItem(o.one, "score")),
               cJSON_GetNumberValue(cJSON_GetObjectItem(o.one, "probability")));
        const cJSON *f;
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(o.one, "fields"))
            printf("  %-10s %s\n", f->string, cJSON_GetStringValue(f));
        printf("see both: custos profile show %.0f; custos profile show %.0f\n",
               cJSON_GetNumberValue(cJSON_GetObjectItem(o.one, "profile_a")),
               cJSON_GetNumberValue(cJSON_GetObjectItem(o.one, "profile_b")));
    }
    cJSON_Delete(o.one);
    return EXIT_OK;
}

/* accept: a must-link; reject: a must-not-link. Then resolve again. */
static int review_decide(int argc, char **argv, bool accept)
{
    const char *by = NULL;
    int64_t id;
    int rc = parse_id(argc, argv, accept ? "accept" : "reject", &by, &id);
    if (rc)
        return rc;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct pairs_out o = {0};
    struct err e = {0};
    struct resolve_stats s;
    int64_t now = time_now_ms();
    rc = id ? st->ops->review_scan(st, id, NULL, review_row, &o, &e) : 0;
    if (!rc && !o.one)
        rc = err_set(&e, ERR_NOTFOUND, "no review pair %" PRId64, id);
    int64_t a = 0, b = 0;
    if (!rc) {
        a = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o.one, "profile_a"));
        b = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o.one, "profile_b"));
        char reason[96];
        snprintf(reason, sizeof(reason), "review pair %" PRId64 " %s", id,
                 accept ? "accepted" : "rejected");
        if (!(rc = st->ops->begin(st, &e))) {
            rc = st->ops->review_decide(st, id, accept ? "accepted" : "rejected", decider(by), now,
                                        &e);
            /* profile ids are their smallest identifier's id + 1 */
            if (!rc)
                rc = st->ops->constraint_add(st, accept ? "must" : "cannot", a - 1, b - 1, reason,
                                             now, &e);
            rc = rc ? (st->ops->rollback(st), rc) : st->ops->commit(st, &e);
        }
    }
    if (!rc)
        rc = resolve_again(st, &s, &e);
    store_close(st);
    cJSON_Delete(o.one);
    if (rc)
        return cli_fail("%s", e.msg);
    if (accept)
        printf("review pair %" PRId64 " accepted: profiles %" PRId64 " and %" PRId64 " %s\n", id, a,
               b,
               s.must_refused ? "could not all be linked (the rules refuse: see custos resolve)"
                              : "are one profile now (the merge is journaled)");
    else
        printf("review pair %" PRId64 " rejected: profiles %" PRId64 " and %" PRId64
               " will not be linked by later resolutions\n",
               id, a, b);
    return EXIT_OK;
}

int cmd_review(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("review", "say list, show, accept or reject");
    if (strcmp(argv[1], "list") == 0)
        return review_list(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return review_show(argc - 1, argv + 1);
    if (strcmp(argv[1], "accept") == 0)
        return review_decide(argc - 1, argv + 1, true);
    if (strcmp(argv[1], "reject") == 0)
        return review_decide(argc - 1, argv + 1, false);
    return cli_usage("review", "unknown action \"%s\": say list, show, accept or reject", argv[1]);
}

/* ---- custos profile unmerge ---- */

struct merge_pick {
    int64_t profile, want; /* want: --merge, or 0 */
    struct merge_row m;    /* the merge chosen (id 0: none) */
    bool as_from;          /* the profile was the one merged away */
    bool undone;           /* the merge asked for was undone already */
};

static int pick_merge(const struct merge_row *m, void *ctx)
{
    struct merge_pick *p = ctx;
    if (p->want) {
        if (m->id == p->want) {
            p->m = *m;
            p->undone = m->undone_at != STORE_NULL_TIME;
        }
        return 0;
    }
    if (m->undone_at != STORE_NULL_TIME)
        return 0;
    /* The latest merge that took this profile away; else the latest into it. */
    bool from = m->from_profile == p->profile;
    if (from || !p->as_from) {
        p->m = *m;
        p->as_from = from;
    }
    return 0;
}

static int live_has(int64_t id, void *ctx)
{
    int64_t *want = ctx;
    if (id == *want)
        *want = 0;
    return 0;
}

int cmd_profile_unmerge(int argc, char **argv)
{
    const char *merge = NULL, *pos[1];
    bool json = false;
    size_t npos;
    const struct cli_opt opts[] = {{"merge", &merge, NULL}, {"json", NULL, &json}};
    int rc = cli_parse("profile", argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage("profile", "unmerge needs a profile ID (and perhaps --merge ID from "
                                    "the profile's merge history)");
    struct merge_pick p = {0};
    if ((rc = cli_parse_count("profile", "ID", pos[0], &p.profile)) ||
        (merge && (rc = cli_parse_count("profile", "merge", merge, &p.want))))
        return rc;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct err e = {0};
    struct resolve_stats s;
    int64_t now = time_now_ms();
    rc = st->ops->merge_scan(st, p.profile, pick_merge, &p, &e);
    if (!rc && !p.m.id)
        rc = p.want ? err_set(&e, ERR_NOTFOUND,
                              "merge %" PRId64 " is not in profile %" PRId64 "'s history", p.want,
                              p.profile)
                    : err_set(&e, ERR_NOTFOUND,
                              "profile %" PRId64 " has no merge to undo (custos profile show "
                              "%" PRId64 " lists its merge history)",
                              p.profile, p.profile);
    if (!rc && p.undone)
        rc = err_set(&e, ERR_EXISTS, "merge %" PRId64 " was undone already", p.m.id);
    char reason[96];
    snprintf(reason, sizeof(reason), "merge %" PRId64 " undone", p.m.id);
    if (!rc)
        rc = st->ops->constraint_add(st, "cannot", p.m.from_profile - 1, p.m.into_profile - 1,
                                     reason, now, &e);
    if (!rc)
        rc = resolve_again(st, &s, &e);
    int64_t missing = p.m.from_profile;
    if (!rc)
        rc = st->ops->profile_scan(st, live_has, &missing, &e);
    bool restored = missing == 0;
    if (!rc)
        rc = st->ops->merge_undo(st, p.m.id, p.m.from_profile, p.m.into_profile, restored, now, &e);
    store_close(st);
    if (rc)
        return cli_fail("%s", e.msg);
    if (json)
        printf("{\"merge\":%" PRId64 ",\"profile\":%" PRId64 ",\"from_profile\":%" PRId64
               ",\"restored\":%s}\n",
               p.m.id, p.m.from_profile, p.m.into_profile, restored ? "true" : "false");
    else
        printf("merge %" PRId64 " undone: profile %" PRId64 " split from profile %" PRId64
               "%s; later resolutions keep them apart\n",
               p.m.id, p.m.from_profile, p.m.into_profile,
               restored ? " and answers under its own id again"
                        : " (its records now belong to other profiles: its id still redirects)");
    return EXIT_OK;
}
