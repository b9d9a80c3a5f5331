/* survivorship.h - which of a trait's candidate values becomes the golden value.
 *
 * Every trait of a profile keeps all its candidate values, each with the source, the
 * record and the time it came from (its lineage). A rule per trait picks the golden
 * one; the `survivorship` setting names them (docs/identity.md#survivorship):
 *
 *     name:source_priority(crm,pos,web),city:most_frequent,*:most_recent
 *
 * Rules:
 *   most_recent            the candidate with the latest time; a candidate without a
 *                          time loses to any with one; ties go to the later record.
 *   most_frequent          the value carried by the most candidates; a tie goes to the
 *                          value seen most recently (as most_recent).
 *   source_priority(a,b)   the candidate from the first listed source that has one;
 *                          sources not listed come after every listed one; within one
 *                          source, as most_recent.
 * `*` is the rule of every trait not named (most_recent when there is no `*`).
 * Empty values (nothing but white space) are candidates but never golden. */
#ifndef CUSTOS_SURVIVORSHIP_H
#define CUSTOS_SURVIVORSHIP_H

#include "core/common.h"

#define SURV_MAX_RULES   64 /* traits with a rule of their own */
#define SURV_MAX_SOURCES 16 /* sources in one source_priority list */
#define SURV_NAME_MAX    64 /* bytes of a trait or source name */
#define SURV_RULE_TEXT   (SURV_NAME_MAX * (SURV_MAX_SOURCES + 1) + 32)

enum surv_kind { SURV_MOST_RECENT, SURV_MOST_FREQUENT, SURV_SOURCE_PRIORITY };

struct surv_rule {
    char trait[SURV_NAME_MAX + 1]; /* "*" for the default */
    enum surv_kind kind;
    char sources[SURV_MAX_SOURCES][SURV_NAME_MAX + 1];
    size_t nsources;
};

struct survivorship {
    struct surv_rule rules[SURV_MAX_RULES];
    size_t nrules;
    struct surv_rule fallback; /* the `*` rule, most_recent unless given */
};

/* Parses the setting's text (see above; spaces around names are ignored). Returns 0,
 * or ERR_INVALID with the reason (naming the offending part) in e. */
int survivorship_parse(const char *text, struct survivorship *s, struct err *e);

/* The rule of trait (the fallback when none names it). */
const struct surv_rule *survivorship_rule(const struct survivorship *s, const char *trait);

/* The rule as text, "source_priority(crm,pos)", into out (cap >= SURV_RULE_TEXT). */
void survivorship_rule_text(const struct surv_rule *r, char *out, size_t cap);

/* One candidate value of a trait. */
struct surv_candidate {
    const char *value;
    const char *source; /* source name */
    int64_t time;       /* ms since the epoch; INT64_MIN when unknown */
    int64_t seq;        /* order of arrival (record id): a larger one is later */
};

/* The index in c[0..n) of the golden value under rule r, or -1 when no candidate has
 * a non-empty value. */
ptrdiff_t survivorship_choose(const struct surv_rule *r, const struct surv_candidate *c, size_t n);

/* Adds "traits" to a profile view (the JSON object of the store's profile_view) from
 * its "trait_records" and "trait_events" (identify calls): an array, sorted by trait
 * name, of {name, value (the golden value, null when none), rule, chosen (index of the
 * golden candidate or -1), candidates: [{value, source, kind ("identify" for an
 * event), record_key (an event's messageId), file, line (null for events), time (ms,
 * null when the record had none), imported_at (ms; an event's receivedAt)}]}. A
 * candidate's time for the rules is its own time, else when it was imported;
 * candidates are sorted newest first by it. view is a cJSON *. Returns 0 or
 * ERR_NOMEM. */
int survivorship_apply(const struct survivorship *s, void *view);

#endif
