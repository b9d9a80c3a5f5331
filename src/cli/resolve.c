/* resolve.c - `custos resolve` and `custos profile`: OneID from the command line. */
#include <cJSON.h>
#include <unistd.h>

#include "cli/cli.h"
#include "privacy/seal.h"
#include "privacy/policy.h"
#include "core/config.h"
#include "core/timeutil.h"
#include "identity/resolve.h"
#include "identity/survivorship.h"

#define PROFILE_RECENT_EVENTS 10 /* events shown by profile show */

int cmd_resolve(int argc, char **argv)
{
    const char *map_path = NULL;
    bool full = false, json = false, quiet = false, exact = false;
    size_t npos;
    const struct cli_opt opts[] = {{"full", NULL, &full},
                                   {"exact-baseline", NULL, &exact},
                                   {"map-out", &map_path, NULL},
                                   {"json", NULL, &json},
                                   {"quiet", NULL, &quiet}};
    int rc = cli_parse("resolve", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    struct err e = {0};
    struct idgraph_rules rules;
    if (idgraph_rules_parse(cfg.identity_types, cfg.identity_blocked, &rules, &e)) {
        idgraph_rules_release(&rules);
        return cli_fail("%s", e.msg);
    }
    FILE *map = NULL;
    if (map_path && !(map = fopen(map_path, "w"))) {
        idgraph_rules_release(&rules);
        return cli_fail("cannot write %s: %s", map_path, strerror(errno));
    }
    struct store *st;
    if ((rc = cli_open_store(&st))) {
        if (map)
            fclose(map);
        idgraph_rules_release(&rules);
        return rc;
    }
    struct resolve_stats s;
    struct resolve_match match;
    resolve_match_from_config(&match);
    if (exact && !map)
        rc = err_set(&e, ERR_USAGE, "--exact-baseline needs --map-out FILE");
    else if (exact)
        rc = resolve_exact_baseline(st, map, &s, &e);
    else
        rc = resolve_full(st, &rules, &match, map, !quiet && cli_progress_wanted(), &s, &e);
    store_close(st);
    idgraph_rules_release(&rules);
    if (map && fclose(map) && !rc)
        rc = err_set(&e, ERR_IO, "cannot write %s", map_path);
    if (rc)
        return cli_fail("%s", e.msg);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "events", (double)s.events);
        cJSON_AddNumberToObject(o, "records", (double)s.records);
        cJSON_AddNumberToObject(o, "unresolved", (double)s.unresolved);
        cJSON_AddNumberToObject(o, "identifiers", (double)s.identifiers);
        cJSON_AddNumberToObject(o, "profiles", (double)s.profiles);
        cJSON_AddNumberToObject(o, "refused_links", (double)s.refused_links);
        cJSON_AddNumberToObject(o, "suppressed", (double)s.suppressed);
        cJSON_AddNumberToObject(o, "merges", (double)s.merges);
        cJSON_AddNumberToObject(o, "must_links", (double)s.must_links);
        cJSON_AddNumberToObject(o, "must_links_refused", (double)s.must_refused);
        cJSON_AddNumberToObject(o, "cannot_links", (double)s.cannot_links);
        cJSON *d = cJSON_AddObjectToObject(o, "detected_shared_values");
        for (size_t i = 0; i < s.ndetected_types; i++)
            cJSON_AddNumberToObject(d, s.detected_type[i], (double)s.detected_count[i]);
        cJSON *m = cJSON_AddObjectToObject(o, "matcher");
        cJSON_AddBoolToObject(m, "enabled", match.enabled);
        cJSON_AddBoolToObject(m, "fitted", s.match_fitted);
        cJSON_AddNumberToObject(m, "records", (double)s.match_records);
        cJSON_AddNumberToObject(m, "candidate_pairs", (double)s.match_candidates);
        cJSON_AddNumberToObject(m, "links", (double)s.match_links);
        cJSON_AddNumberToObject(m, "links_refused", (double)s.match_refused);
        cJSON_AddNumberToObject(m, "review_pairs", (double)s.review_pairs);
        cJSON_AddNumberToObject(o, "seconds", s.seconds);
        cJSON *inv = cJSON_AddObjectToObject(o, "invalid_identifiers");
        for (size_t i = 0; i < s.ninvalid; i++)
            cJSON_AddNumberToObject(inv, s.invalid_type[i], (double)s.invalid[i]);
        char *t = cJSON_PrintUnformatted(o);
        if (t)
            puts(t);
        cJSON_free(t);
        cJSON_Delete(o);
        return EXIT_OK;
    }
    printf("%" PRIu64 " records and %" PRIu64 " events -> %" PRIu64 " profiles (%" PRIu64
           " identifiers; %" PRIu64 " links refused by the rules; %" PRIu64
           " without any usable identifier; %" PRIu64 " profiles merged) in %.2f s\n",
           s.records, s.events, s.profiles, s.identifiers, s.refused_links, s.unresolved, s.merges,
           s.seconds);
    for (size_t i = 0; i < s.ninvalid; i++)
        printf("  %" PRIu64 " %s values could not be standardized (not linked)\n", s.invalid[i],
               s.invalid_type[i]);
    for (size_t i = 0; i < s.ndetected_types; i++)
        printf("  %" PRIu64 " %s values refused as links: each is carried by records naming %ld or "
               "more different people (setting identity-detect-names)\n",
               s.detected_count[i], s.detected_type[i], match.detect_names);
    if (match.enabled && !exact)
        printf("  matcher: %" PRIu64
               " profiles compared on name, birth date, city and gender, %" PRIu64
               " candidate pairs; %" PRIu64 " linked, %" PRIu64 " refused by the rules, %" PRIu64
               " waiting for review (custos review list)%s\n",
               s.match_records, s.match_candidates, s.match_links, s.match_refused, s.review_pairs,
               s.match_fitted ? "" : "; too few to fit a model, nothing linked");
    if (s.must_links || s.must_refused || s.cannot_links)
        printf("  decisions: %" PRIu64 " accepted pairs linked (%" PRIu64
               " refused by the rules), %" PRIu64 " must-not-link pairs kept apart\n",
               s.must_links, s.must_refused, s.cannot_links);
    return EXIT_OK;
}

static void print_view(const cJSON *v)
{
    char ts[32];
    printf("profile %.0f", cJSON_GetNumberValue(cJSON_GetObjectItem(v, "id")));
    const cJSON *from = cJSON_GetObjectItem(v, "redirected_from");
    if (from)
        printf("  (profile %.0f was merged into it)", cJSON_GetNumberValue(from));
    printf("\n\nidentifiers:\n");
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(v, "identifiers"))
        printf("  %-18s %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(it, "type")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "value")));
    /* Golden traits: the value the trait's survivorship rule chose, and every candidate
     * with where it came from. */
    printf("\ntraits (* the golden value, chosen by the rule in brackets; then every candidate "
           "and where it came from):\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(v, "traits"))
    {
        const char *golden = cJSON_GetStringValue(cJSON_GetObjectItem(it, "value"));
        printf("  %s: %s  [%s]\n", cJSON_GetStringValue(cJSON_GetObjectItem(it, "name")),
               golden ? golden : "(none)", cJSON_GetStringValue(cJSON_GetObjectItem(it, "rule")));
        int chosen = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(it, "chosen")), k = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(it, "candidates"))
        {
            const cJSON *when = cJSON_GetObjectItem(c, "time");
            bool imported = !cJSON_IsNumber(when);
            if (imported)
                when = cJSON_GetObjectItem(c, "imported_at");
            time_format_iso8601((int64_t)cJSON_GetNumberValue(when), ts);
            printf("    %s %s  (%s record %s, %s line %.0f, %.10s%s)\n", k++ == chosen ? "*" : " ",
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "value")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "source")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "record_key")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "file")),
                   cJSON_GetNumberValue(cJSON_GetObjectItem(c, "line")), ts,
                   imported ? " imported" : "");
        }
    }
    printf("\nrecords:\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(v, "records_by_source"))
        printf("  %-12s %-10s %.0f\n", cJSON_GetStringValue(cJSON_GetObjectItem(it, "source")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "kind")),
               cJSON_GetNumberValue(cJSON_GetObjectItem(it, "records")));
    const cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItem(v, "orders"), 0);
    double n = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "orders"));
    printf("\norders: %.0f", n == n ? n : 0);
    if (n > 0) {
        char first[32], last[32];
        time_format_iso8601((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "first_order")),
                            first);
        time_format_iso8601((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "last_order")),
                            last);
        printf(", %.2f %s in all, first %.10s, last %.10s",
               cJSON_GetNumberValue(cJSON_GetObjectItem(o, "amount_minor")) / 100.0,
               cJSON_GetStringValue(cJSON_GetObjectItem(o, "currency")), first, last);
    }
    printf("\n\nrecent events:\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(v, "recent_events"))
    {
        time_format_iso8601((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(it, "timestamp")),
                            ts);
        const char *ev = cJSON_GetStringValue(cJSON_GetObjectItem(it, "event"));
        printf("  %s  %-12s %-8s %s\n", ts, cJSON_GetStringValue(cJSON_GetObjectItem(it, "source")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "type")), ev ? ev : "");
    }
    printf("\nmerge history:\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(v, "merges"))
    {
        time_format_iso8601((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(it, "time")), ts);
        printf("  %s  profile %.0f into %.0f: %s\n", ts,
               cJSON_GetNumberValue(cJSON_GetObjectItem(it, "from_profile")),
               cJSON_GetNumberValue(cJSON_GetObjectItem(it, "into_profile")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "reason")));
    }
}

int cmd_profile(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "unmerge") == 0)
        return cmd_profile_unmerge(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "show") != 0)
        return cli_usage("profile", "say: custos profile show ID | --email E | --phone P | "
                                    "--user-id U | --member-card C [--json], or custos "
                                    "profile unmerge ID [--merge M]");
    const char *email = NULL, *phone = NULL, *user_id = NULL, *card = NULL, *pos[1];
    bool json = false;
    size_t npos;
    const struct cli_opt opts[] = {{"email", &email, NULL},
                                   {"phone", &phone, NULL},
                                   {"user-id", &user_id, NULL},
                                   {"member-card", &card, NULL},
                                   {"json", NULL, &json}};
    int rc = cli_parse("profile", argc - 1, argv + 1, opts, ARRAY_SIZE(opts), pos, 1, &npos);
    if (rc)
        return rc;
    const char *type = email ? "email" : phone ? "phone" : user_id ? "user_id" : "member_card";
    const char *value = email ? email : phone ? phone : user_id ? user_id : card;
    if ((npos == 1) == (value != NULL))
        return cli_usage("profile", "give a profile ID, or one of --email, --phone, --user-id, "
                                    "--member-card");
    int64_t id = 0;
    if (npos == 1 && (rc = cli_parse_count("profile", "ID", pos[0], &id)))
        return rc;
    struct survivorship surv;
    struct err e = {0};
    if (survivorship_parse(cfg.survivorship, &surv, &e))
        return cli_fail("%s", e.msg);
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    if (value) {
        char norm[IDGRAPH_VALUE_MAX + 1];
        if (resolve_standardize(type, value, strlen(value), norm, sizeof(norm)) ||
            seal_identifier(type, norm, norm, sizeof(norm), NULL)) { /* as stored */
            store_close(st);
            return cli_fail("\"%s\" is not a valid %s", value, type);
        }
        rc = st->ops->profile_by_identifier(st, type, norm, &id, &e);
        if (!rc && !id)
            rc = err_set(&e, ERR_NOTFOUND, "no profile has that %s (run custos resolve?)", type);
    }
    void *view = NULL;
    if (!rc)
        rc = st->ops->profile_view(st, id, PROFILE_RECENT_EVENTS, &view, &e);
    if (!rc) {
        char what[40];
        snprintf(what, sizeof(what), "profile %" PRId64, id);
        rc = seal_open_json(view, what, &e); /* a token left: it did not decrypt */
    }
    if (!rc) { /* the role's masks, and the audit of a clear read (privacy/policy.h) */
        char subject[32];
        snprintf(subject, sizeof(subject), "profile:%.0f",
                 cJSON_GetNumberValue(cJSON_GetObjectItem(view, "id")));
        rc = policy_answer(st, view, cfg.cli_role, "cli", subject, &e);
        if (rc) {
            cJSON_Delete(view);
            view = NULL;
        }
    }
    store_close(st);
    if (!rc && survivorship_apply(&surv, view))
        rc = err_set(&e, ERR_NOMEM, "out of memory");
    if (rc) {
        cJSON_Delete(view);
        return cli_fail("%s", e.msg);
    }
    if (json) {
        char *t = cJSON_PrintUnformatted(view);
        if (t)
            puts(t);
        cJSON_free(t);
    } else {
        print_view(view);
    }
    cJSON_Delete(view);
    return EXIT_OK;
}
