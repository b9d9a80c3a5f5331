/* segment.h - the segment language: a parser (with the column of every syntax
 * error), and its evaluation on the analytics snapshot for every profile.
 *
 *   orders.count(last 90d) >= 3 and traits.city = "上海"
 *       and rfm.segment in ("At Risk", "Can't Lose Them")
 *
 * Grammar (docs/segments.md):
 *   expr    := and ("or" and)*
 *   and     := unary ("and" unary)*
 *   unary   := "not" unary | cmp
 *   cmp     := value [("=" | "!=" | "<" | "<=" | ">" | ">=") value
 *                     | "in" "(" value ("," value)* ")" | "contains" value]
 *   value   := NUMBER | STRING | "true" | "false" | "(" expr ")" | ref
 *   ref     := traits.NAME | tags.NAME | tags | rfm.(segment|r|f|m|score|recency|
 *              frequency|monetary) | orders.(count|revenue)(args) | events.count(args)
 *   args    := [STRING ","] [window] ("," FIELD "=" STRING)*     (events: the name first)
 *   window  := "last" NUMBER ("d" | "w" | "m" | "days" | ...) | "all"
 *
 * Tags are named expressions of the same language from the setting `tags`
 * ("name: expr; name: expr"), computed before segments; a tag cannot use tags. */
#ifndef CUSTOS_SEGMENT_H
#define CUSTOS_SEGMENT_H

#include "analytics/analytics.h"

#define SEG_MAX_EXPR   4096 /* bytes of an expression */
#define SEG_MAX_DEPTH  64   /* nesting of parentheses and operators */
#define SEG_MAX_TAGS   64   /* tags in the setting */
#define SEG_MAX_TRAITS 32   /* distinct traits an expression set may use */

struct seg_expr; /* a parsed expression */

/* Parses text. Returns 0 and *out (free with seg_expr_free), or ERR_INVALID with
 * "column N: what was expected" in e and the 1-based column in *column (may be NULL),
 * or ERR_LIMIT. */
int seg_parse(const char *text, struct seg_expr **out, int *column, struct err *e);
void seg_expr_free(struct seg_expr *x);
/* Whether the expression uses tags (tags may not). */
bool seg_uses_tags(const struct seg_expr *x);

/* A tag from the setting. */
struct seg_tag {
    char *name;
    char *text; /* the expression as written */
    struct seg_expr *expr;
};
/* Parses the `tags` setting: "name: expr; name: expr" (names [A-Za-z0-9_]). Returns
 * 0 and the tags (free with seg_tags_free), or ERR_INVALID naming the tag and column. */
int seg_tags_parse(const char *setting, struct seg_tag **tags, size_t *n, struct err *e);
void seg_tags_free(struct seg_tag *tags, size_t n);

/* What evaluation needs beyond the snapshot: trait values loaded from the store, RFM
 * scores and tags. Built by seg_context_new for a set of expressions (tags first). */
struct seg_context;

/* Prepares evaluation of exprs (and the tags) on s at time now (ms: windows are
 * [now - N days, now]): loads the traits they use from st (st may be NULL when none
 * is used), computes RFM (default options) if used, evaluates the tags. Returns 0 and
 * *out (free with seg_context_free), or the error. */
int seg_context_new(const struct snapshot *s, struct store *st, int64_t now,
                    const struct seg_tag *tags, size_t ntags, struct seg_expr *const *exprs,
                    size_t nexprs, struct seg_context **out, struct err *e);
void seg_context_free(struct seg_context *c);

/* Evaluates x for every profile of the snapshot (two threads): member[p] is 1 when
 * profile p matches. member has s->nprofiles bytes. */
void seg_eval_all(const struct seg_context *c, const struct seg_expr *x, uint8_t *member);

/* The tags of profile p, as names (ntags of them at most), for display. */
size_t seg_profile_tags(const struct seg_context *c, size_t p, const char **names, size_t cap);

/* ---- Stored segments (refresh.c) ---- */

struct segment_refresh_stats {
    int64_t segments, entered, exited;
};

/* Evaluates every stored segment and every tag of tags_setting (stored as segments
 * "tag:NAME") on s, with windows ending at eval_now, and stores who entered and who
 * left at wall_now, in one transaction. */
int segment_refresh(struct store *st, const struct snapshot *s, const char *tags_setting,
                    int64_t eval_now, int64_t wall_now, struct segment_refresh_stats *stats,
                    struct err *e);

#endif
