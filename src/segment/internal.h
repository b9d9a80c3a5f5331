/* internal.h - the segment language's syntax tree, shared by parse.c and eval.c
 * (not part of the module's API: segment.h is). */
#ifndef CUSTOS_SEGMENT_INTERNAL_H
#define CUSTOS_SEGMENT_INTERNAL_H

#include "segment/segment.h"

enum seg_node_kind { N_OR, N_AND, N_NOT, N_CMP, N_IN, N_CONTAINS, N_NUM, N_STR, N_BOOL, N_REF };
enum seg_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
enum seg_ref {
    R_TRAIT,
    R_TAG,
    R_TAGS,
    R_RFM_SEGMENT,
    R_RFM_R,
    R_RFM_F,
    R_RFM_M,
    R_RFM_SCORE,
    R_RFM_RECENCY,
    R_RFM_FREQUENCY,
    R_RFM_MONETARY,
    R_ORDERS_COUNT,
    R_ORDERS_REVENUE,
    R_EVENTS_COUNT,
};
enum seg_filter { F_NONE, F_CHANNEL, F_STORE, F_SOURCE, F_CATEGORY };

struct seg_node {
    enum seg_node_kind kind;
    int column;
    enum seg_op op;
    struct seg_node *a, *b;
    struct seg_node **items; /* N_IN */
    size_t nitems;
    double num; /* N_NUM, N_BOOL */
    char *str;  /* N_STR */
    enum seg_ref ref;
    char *name;          /* trait, tag or event name */
    int64_t window_days; /* 0: all time */
    enum seg_filter filter;
    char *filter_value;
    /* resolved by seg_context_new */
    int slot;      /* trait slot, tag index */
    uint32_t id;   /* event name / filter value id (UINT32_MAX: matches nothing) */
    uint64_t mask; /* category bit */
};

struct seg_expr {
    struct seg_node *root;
};

void seg_node_free(struct seg_node *n);

#endif
