/* graph.h - the identity graph: identifiers are nodes, records link them, and every
 * connected group of identifiers is one profile (OneID).
 *
 * Deterministic rules keep strangers apart: blocked values never link (configured
 * junk such as "null" or 13800000000, and placeholders the standardizer knows); per
 * profile each identifier type has a limit (one resident ID number, three phones ...);
 * when a record would join two groups and the joined group would break a limit, the
 * link is refused, and the record joins the group of its highest-priority identifier.
 * A shared family phone therefore cannot glue two people who each have a member card
 * of their own.
 *
 * Identifiers are interned to dense integers; the groups are a union-find with the
 * per-type counts kept at each root. Not thread-safe. */
#ifndef CUSTOS_IDGRAPH_H
#define CUSTOS_IDGRAPH_H

#include "core/common.h"

#define IDGRAPH_MAX_TYPES  32  /* identifier types with a rule */
#define IDGRAPH_VALUE_MAX  256 /* bytes of an identifier value */
#define IDGRAPH_RECORD_IDS 32  /* identifiers a record may carry */

struct idgraph_type_rule {
    char name[32];
    int priority; /* lower links first */
    int limit;    /* most identifiers of this type in one profile; 0: no limit */
};

struct idgraph_rules {
    struct idgraph_type_rule types[IDGRAPH_MAX_TYPES];
    size_t ntypes;
    char **blocked; /* values (after standardization) that never link */
    size_t nblocked;
};

/* Parses the rules from settings text: limits "id_number:1,user_id:1,phone:3,...",
 * the order of the list being the priority; blocked "null,0,test@test.com,...".
 * Identifier types not listed link with the lowest priority and no limit. */
int idgraph_rules_parse(const char *types, const char *blocked, struct idgraph_rules *r,
                        struct err *e);
void idgraph_rules_release(struct idgraph_rules *r);

struct idgraph;

struct ident {
    const char *type;  /* a rule's name, or any other type */
    const char *value; /* standardized */
};

/* Why a link was refused, for the merge journal and the tests. */
enum idgraph_refusal {
    IDGRAPH_LINKED = 0,
    IDGRAPH_BLOCKED_VALUE,
    IDGRAPH_OVER_LIMIT,
    IDGRAPH_CANNOT_LINK, /* a stored must-not-link (rejected pair, undone merge) */
};

int idgraph_new(const struct idgraph_rules *rules, struct idgraph **out, struct err *e);
void idgraph_free(struct idgraph *g);

/* Adds a record carrying ids[0..n) and links them as the rules allow. Returns the
 * node of the group the record belongs to (>= 0; find its profile later with
 * idgraph_group), -1 when the record has no usable identifier, or ERR_NOMEM.
 * *refused counts the links the rules refused (may be NULL). */
int64_t idgraph_add(struct idgraph *g, const struct ident *ids, size_t n, size_t *refused);

/* The group (profile) of a node: a stable representative, the smallest node number
 * in the group. */
int64_t idgraph_group(struct idgraph *g, int64_t node);

/* Interned identifiers: how many, and the type, value and node of each (node i). */
size_t idgraph_count(const struct idgraph *g);
void idgraph_node(const struct idgraph *g, int64_t node, const char **type, const char **value);

/* Interns (type, value) without linking or rules (not even blocked values), so that
 * a stored numbering can be restored node by node. Returns its node, -1 when the
 * type cannot be recorded, or ERR_NOMEM. */
int64_t idgraph_intern(struct idgraph *g, const char *type, const char *value);

/* Records that nodes a and b must never be in one group (a rejected review pair, an
 * undone merge): every later link that would join their groups is refused like one
 * over a limit. Checked by a scan of all such pairs at each union: meant for the
 * handful people decide, not for millions. 0, ERR_INVALID (a node out of range),
 * ERR_NOMEM. */
int idgraph_cannot_link(struct idgraph *g, int64_t a, int64_t b);

/* Joins the groups of nodes a and b (a probabilistic match, an accepted pair) unless
 * the rules refuse: a limit, or a must-not-link. Returns IDGRAPH_LINKED (also when
 * they are one group already), IDGRAPH_OVER_LIMIT or IDGRAPH_CANNOT_LINK. */
enum idgraph_refusal idgraph_link(struct idgraph *g, int64_t a, int64_t b);

/* For a node that named a group (its smallest node) until that group went under
 * another: the identifier of its group (*mine) and of the other (*theirs) whose link
 * joined them, for the merge journal. false when it never went under. */
bool idgraph_joined_by(const struct idgraph *g, int64_t node, int64_t *mine, int64_t *theirs);

/* The node of an identifier, or -1. */
int64_t idgraph_find(struct idgraph *g, const char *type, const char *value);

#endif
