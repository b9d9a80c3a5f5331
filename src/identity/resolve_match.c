/* resolve_match.c - see resolve_match.h. */
#include <math.h>

#include "govern/standardize.h"
#include "identity/match.h"
#include "identity/resolve_match.h"

#define RM_U_SAMPLE 200000 /* random pairs u is estimated from: plenty for four fields */
#define RM_U_SEED   0x5eed /* the sample is deterministic: the same store links the same */
#define RM_FIT_MIN  20     /* comparison vectors below which a subset is not fitted */
#define RM_M_FLOOR  0.001  /* least m of a level (see floor_m) */

static int pool_add(struct rm_traits *t, const char *s, uint32_t *off)
{
    size_t len = strlen(s);
    if (!len) {
        *off = 0;
        return 0;
    }
    if (t->pool_len + len + 1 > t->pool_cap) {
        size_t cap = t->pool_cap ? t->pool_cap * 2 : 1 << 16;
        while (cap < t->pool_len + len + 1)
            cap *= 2;
        if (cap > UINT32_MAX)
            return ERR_NOMEM;
        char *p = realloc(t->pool, cap);
        if (!p)
            return ERR_NOMEM;
        t->pool = p;
        t->pool_cap = cap;
        if (!t->pool_len)
            t->pool[t->pool_len++] = 0;
    }
    *off = (uint32_t)t->pool_len;
    memcpy(t->pool + t->pool_len, s, len + 1);
    t->pool_len += len + 1;
    return 0;
}

/* "1988-09-23", "1988/9/23", "19880923", "1988年9月23日" -> "1988-09-23"; else "". */
static void norm_birthday(const char *in, char out[11])
{
    unsigned part[3] = {0}, digits[3] = {0};
    size_t k = 0;
    out[0] = 0;
    for (const char *p = in; *p && k < 3; p++) {
        if (*p >= '0' && *p <= '9') {
            if (digits[k] == 8)
                return;
            part[k] = part[k] * 10 + (unsigned)(*p - '0');
            digits[k]++;
        } else if (digits[k]) {
            k++;
        }
    }
    if (k < 3 && digits[k])
        k++;
    if (k == 1 && digits[0] == 8) {
        part[2] = part[0] % 100;
        part[1] = part[0] / 100 % 100;
        part[0] /= 10000;
    } else if (k != 3 || digits[0] != 4 || digits[1] > 2 || digits[2] > 2) {
        return;
    }
    char buf[16];
    int32_t days;
    snprintf(buf, sizeof(buf), "%04u-%02u-%02u", part[0] % 10000, part[1] % 100, part[2] % 100);
    if (match_date_parse(buf, strlen(buf), &days) == 0)
        memcpy(out, buf, 11);
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && memcmp(s + n - m, tail, m) == 0;
}

/* A name, or "" when it is only a surname and a form of address (王女士, 李先生): that
 * says little about who it is. */
static void norm_name(const char *in, char *out, size_t cap)
{
    const char *why;
    if (std_name(in, strlen(in), out, cap, &why)) {
        out[0] = 0;
        return;
    }
    static const char *const address[] = {"女士", "先生", "小姐", "太太"};
    for (size_t i = 0; i < ARRAY_SIZE(address); i++)
        if (ends_with(out, address[i]) && strlen(out) <= strlen(address[i]) + 4)
            out[0] = 0;
}

/* A city without the trailing 市 ("上海市" and "上海" are one city), trimmed. */
static void norm_city(const char *in, char *out, size_t cap)
{
    while (*in == ' ')
        in++;
    snprintf(out, cap, "%s", in);
    size_t n = strlen(out);
    while (n && out[n - 1] == ' ')
        out[--n] = 0;
    if (ends_with(out, "市") && n > strlen("市"))
        out[n - strlen("市")] = 0;
}

int rm_traits_add(struct rm_traits *t, int64_t node, const char *name, const char *birthday,
                  const char *city, const char *gender)
{
    char v[RM_NFIELDS][RM_VALUE_MAX + 1] = {{0}};
    const char *why;
    if (name)
        norm_name(name, v[RM_NAME], sizeof(v[RM_NAME]));
    if (birthday)
        norm_birthday(birthday, v[RM_BIRTHDAY]);
    if (city)
        norm_city(city, v[RM_CITY], sizeof(v[RM_CITY]));
    if (gender && std_gender(gender, strlen(gender), v[RM_GENDER], &why))
        v[RM_GENDER][0] = 0;
    if (!v[RM_NAME][0] && !v[RM_BIRTHDAY][0] && !v[RM_CITY][0] && !v[RM_GENDER][0])
        return 0;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        struct rm_entry *p = realloc(t->v, cap * sizeof(*p));
        if (!p)
            return ERR_NOMEM;
        t->v = p;
        t->cap = cap;
    }
    struct rm_entry *en = &t->v[t->n];
    en->node = node;
    for (int f = 0; f < RM_NFIELDS; f++)
        if (pool_add(t, v[f], &en->off[f]))
            return ERR_NOMEM;
    t->n++;
    return 0;
}

/* Characters of given names and surnames read alike (the same pinyin, tones aside),
 * one group a string: a name typed through a pinyin input method often gets another
 * character of its group (王晓明 / 王小明). Characters with two common readings are left
 * out. Public fact, written here. */
static const char *const homophones[] = {
    "小晓筱肖萧啸",
    "伟玮炜薇维卫蔚巍威微韦",
    "静婧晶京菁敬靖景境竞",
    "丽莉俐力立利理李黎礼",
    "婷亭庭霆廷",
    "艳燕妍岩彦雁焱颜言严",
    "慧惠辉晖蕙徽",
    "红宏洪鸿虹弘",
    "明铭鸣名",
    "敏民闽珉旻",
    "芳方舫",
    "娜纳",
    "倩谦千钱",
    "欣新鑫心馨昕芯",
    "玉宇雨语羽钰瑜于余俞渝煜昱",
    "华花桦",
    "林琳霖麟临淋",
    "玲凌灵铃翎",
    "军俊君骏峻珺",
    "杰洁婕捷",
    "娟涓鹃",
    "涛韬桃陶",
    "霞夏侠",
    "平萍苹屏",
    "刚钢纲",
    "英颖莹盈瑛鹰",
    "兰岚蓝澜",
    "鹏朋彭蓬",
    "晨辰陈臣宸琛",
    "怡仪宜奕艺逸毅依",
    "浩昊豪皓郝",
    "子紫梓姿",
    "涵晗寒韩翰菡含",
    "轩萱宣璇炫",
    "博波柏伯",
    "文雯闻汶",
    "琪琦淇祺齐奇棋",
    "佳嘉家加",
    "东冬栋",
    "志智芝致",
    "强蔷",
    "国郭",
    "建健剑坚",
    "春纯淳",
    "梅美玫媚",
    "秋邱丘",
    "天田甜添",
    "佑友右优",
    "梦萌孟蒙",
    "瑶遥耀尧姚",
    "婉晚万宛",
    "清青晴庆卿",
    "曦希熙溪西",
    "张章彰",
    "王汪旺望",
    "刘柳留",
    "杨阳洋扬",
    "黄皇凰",
    "赵昭照钊",
    "吴武伍舞",
    "周舟州洲",
    "徐许旭序",
    "马玛",
    "朱竹珠祝",
    "胡湖虎",
    "何贺荷禾",
    "罗洛",
    "郑正峥政",
    "梁良亮",
    "宋松嵩",
    "唐堂棠",
    "雪薛",
    "凤峰锋枫丰",
    "磊蕾",
};

static bool same_sound(uint32_t a, uint32_t b)
{
    uint32_t cp[16];
    size_t n;
    for (size_t g = 0; g < ARRAY_SIZE(homophones); g++) {
        if (match_utf8_decode(homophones[g], strlen(homophones[g]), cp, ARRAY_SIZE(cp), &n))
            continue;
        bool ha = false, hb = false;
        for (size_t i = 0; i < n; i++) {
            ha |= cp[i] == a;
            hb |= cp[i] == b;
        }
        if (ha && hb)
            return true;
    }
    return false;
}

bool rm_names_sound_alike(const char *a, const char *b)
{
    uint32_t x[RM_VALUE_MAX], y[RM_VALUE_MAX];
    size_t n, m, differ = 0;
    if (match_utf8_decode(a, strlen(a), x, RM_VALUE_MAX, &n) ||
        match_utf8_decode(b, strlen(b), y, RM_VALUE_MAX, &m) || n != m || n < 2)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (x[i] == y[i])
            continue;
        if (!same_sound(x[i], y[i]))
            return false;
        differ++;
    }
    return differ > 0;
}

void rm_traits_release(struct rm_traits *t)
{
    free(t->v);
    free(t->pool);
    memset(t, 0, sizeof(*t));
}

void rm_result_release(struct rm_result *r)
{
    free(r->link);
    free(r->review);
    memset(r, 0, sizeof(*r));
}

static const struct match_schema schema = {
    RM_NFIELDS,
    {
        [RM_NAME] = {"name", MATCH_JW, 0, 0},
        [RM_BIRTHDAY] = {"birthday", MATCH_DATE, 0, 0},
        [RM_CITY] = {"city", MATCH_EXACT, 0, 0},
        [RM_GENDER] = {"gender", MATCH_EXACT, 0, 0},
    },
};

static const struct match_block_rule rules[] = {
    {"name", 1, {{RM_NAME, MATCH_KEY_WHOLE, 0}}},
    {"birthday", 1, {{RM_BIRTHDAY, MATCH_KEY_WHOLE, 0}}},
    {"surname+year", 2, {{RM_NAME, MATCH_KEY_PREFIX, 1}, {RM_BIRTHDAY, MATCH_KEY_PREFIX, 4}}},
    {"name2+city", 2, {{RM_NAME, MATCH_KEY_PREFIX, 2}, {RM_CITY, MATCH_KEY_WHOLE, 0}}},
};

/* What a level means, for people reading the review queue. */
static const char *level_name(enum match_kind kind, uint8_t level)
{
    static const char *const jw[] = {"equal", "nearly equal", "similar", "different"};
    static const char *const date[] = {"equal", "swapped or one digit off", "within a year",
                                       "different"};
    if (level == MATCH_MISSING)
        return "missing";
    if (kind == MATCH_JW && level < 4)
        return jw[level];
    if (kind == MATCH_DATE && level < 4)
        return date[level];
    return level == 0 ? "equal" : "different";
}

static void describe(const uint8_t *levels, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (size_t f = 0; f < schema.nfields && n < cap; f++)
        n += (size_t)snprintf(out + n, cap - n, "%s\"%s\":\"%s\"", f ? "," : "{",
                              schema.field[f].name, level_name(schema.field[f].kind, levels[f]));
    if (n < cap)
        snprintf(out + n, cap - n, "}");
}

/* Beyond the weights, a pair is only linked or reviewed when the names agree at least
 * as "similar" and the birth dates do not contradict each other: the model is fitted
 * on this store's candidates, and when they hold few true matches EM can settle on
 * another split (people of one city); names are what a person is recognized by. */
static bool plausible(const uint8_t *lv)
{
    return lv[RM_NAME] <= 2 && lv[RM_BIRTHDAY] != 3 && lv[RM_GENDER] != 1;
}

/* EM on the vectors whose field `given` is at level 0, with it left out; takes the
 * fitted m of field `want` (and of the fields compared in neither role, averaged with
 * what the other call gave). u is kept. A subset too small to fit leaves m as it was. */
static int fit_m(struct match_model *mo, const struct match_vectors *v, int given, int want,
                 struct err *e)
{
    struct match_vectors sub = {0, v->nfields, malloc((v->n ? v->n : 1) * v->nfields)};
    if (!sub.level)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < v->n; i++) {
        const uint8_t *lv = &v->level[i * v->nfields];
        if (lv[given] != 0)
            continue;
        memcpy(&sub.level[sub.n * v->nfields], lv, v->nfields);
        sub.level[sub.n * v->nfields + (size_t)given] = MATCH_MISSING;
        sub.n++;
    }
    int rc = 0;
    if (sub.n >= RM_FIT_MIN) {
        struct match_model fit = *mo;
        if ((rc = match_em_fit(&fit, &sub, NULL, e)) == 0) {
            memcpy(mo->m[want], fit.m[want], sizeof(mo->m[want]));
            for (size_t f = 0; f < mo->nfields; f++)
                if ((int)f != given && (int)f != want)
                    for (int l = 0; l < mo->nlevels[f]; l++)
                        mo->m[f][l] =
                            given == RM_BIRTHDAY ? fit.m[f][l] : (mo->m[f][l] + fit.m[f][l]) / 2;
        }
    }
    free(sub.level);
    return rc;
}

/* A level no fitted match showed is rare among matches, not impossible: m at least
 * RM_M_FLOOR (then each field's m summed to 1 again). Without it one such level, on a
 * small store, outweighs every other field by 20 bits. */
static void floor_m(struct match_model *mo)
{
    for (size_t f = 0; f < mo->nfields; f++) {
        double sum = 0;
        for (int l = 0; l < mo->nlevels[f]; l++)
            sum += mo->m[f][l] = mo->m[f][l] < RM_M_FLOOR ? RM_M_FLOOR : mo->m[f][l];
        for (int l = 0; l < mo->nlevels[f]; l++)
            mo->m[f][l] /= sum;
    }
}

/* The share of matches among all candidates for the model's m and u: the fixed point
 * of lambda = mean posterior. */
static void fit_lambda(struct match_model *mo, const struct match_vectors *v)
{
    double lambda = mo->lambda > 0 && mo->lambda < 1 ? mo->lambda : 0.1;
    for (int it = 0; it < MATCH_EM_MAX_ITER_DEFAULT; it++) {
        double sum = 0;
        mo->lambda = lambda;
        for (size_t i = 0; i < v->n; i++)
            sum += match_probability(mo, match_weight(mo, &v->level[i * v->nfields]));
        double next = sum / (double)v->n;
        if (next < MATCH_PROB_MIN)
            next = MATCH_PROB_MIN;
        if (next > 1 - MATCH_PROB_MIN)
            next = 1 - MATCH_PROB_MIN;
        if (fabs(next - lambda) < MATCH_EM_TOL_DEFAULT)
            break;
        lambda = next;
    }
    mo->lambda = lambda;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(**(const char *const *const *)a, **(const char *const *const *)b);
}

/* Term frequency: two records with one rare name say more than two with 王伟. For a
 * pair whose names are equal, u of "equal" (the average over all names, from random
 * pairs) is replaced by the share of comparison records that carry that name. */
static int adjust_name_frequency(const struct match_model *mo, const struct match_vectors *v,
                                 const struct match_pairs *p, const char **val, size_t nrec,
                                 double *w, struct err *e)
{
    const char ***by = malloc(nrec * sizeof(*by));
    uint32_t *count = malloc(nrec * sizeof(*count));
    if (!by || !count) {
        free(by);
        free(count);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < nrec; i++)
        by[i] = &val[i * RM_NFIELDS + RM_NAME];
    qsort(by, nrec, sizeof(*by), cmp_str);
    for (size_t i = 0; i < nrec;) {
        size_t j = i;
        while (j < nrec && strcmp(*by[j], *by[i]) == 0)
            j++;
        for (size_t k = i; k < j; k++)
            count[(size_t)(by[k] - val) / RM_NFIELDS] = (uint32_t)(j - i);
        i = j;
    }
    for (size_t i = 0; i < p->n; i++) {
        if (v->level[i * v->nfields + RM_NAME] != 0)
            continue;
        double share = (double)count[p->pair[i].a] / (double)nrec;
        w[i] += log2(mo->u[RM_NAME][0] / share);
    }
    free(by);
    free(count);
    return 0;
}

/* A link also needs the birth dates to agree (equal, or swapped or one digit off):
 * namesakes in one city are common (on the demo world, 6 of 8 pairs with one name, one
 * city and no birth date to compare were two people), so a pair with no birth date to
 * confirm it waits for review however the weights add up. */
static bool confirmed(const uint8_t *lv)
{
    return lv[RM_BIRTHDAY] <= 1;
}

struct ranked {
    double w;
    uint32_t i;
};

static int cmp_weight_desc(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->w != y->w)
        return x->w > y->w ? -1 : 1;
    return x->i < y->i ? -1 : 1;
}

/* Appends to an array whose capacity is implied by its length: it doubles whenever the
 * length reaches a power of two (growing by one each time made a queue of a million
 * pairs quadratic). */
static int push(struct rm_pair **v, size_t *n, const struct rm_pair *p)
{
    if (*n == 0 || (*n & (*n - 1)) == 0) {
        size_t cap = *n ? *n * 2 : 16;
        struct rm_pair *q = realloc(*v, cap * sizeof(*q));
        if (!q)
            return ERR_NOMEM;
        *v = q;
    }
    (*v)[(*n)++] = *p;
    return 0;
}

int rm_run(struct idgraph *g, const struct rm_traits *t, const struct rm_opts *o,
           struct rm_result *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    size_t nnodes = idgraph_count(g);
    int32_t *rec_of = malloc((nnodes ? nnodes : 1) * sizeof(*rec_of));
    int64_t *root = malloc((t->n ? t->n : 1) * sizeof(*root));
    const char **val = malloc((t->n ? t->n : 1) * RM_NFIELDS * sizeof(*val));
    struct match_table *tab = NULL;
    struct match_pairs pairs = {0};
    struct match_vectors vec = {0};
    double *w = NULL;
    struct ranked *order = NULL;
    int rc = 0;
    if (!rec_of || !root || !val) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nnodes; i++)
        rec_of[i] = -1;
    /* One comparison record per group: the first value of each field. */
    size_t nrec = 0;
    for (size_t i = 0; i < t->n; i++) {
        int64_t r = idgraph_group(g, t->v[i].node);
        if (rec_of[r] < 0) {
            rec_of[r] = (int32_t)nrec;
            root[nrec] = r;
            for (int f = 0; f < RM_NFIELDS; f++)
                val[nrec * RM_NFIELDS + (size_t)f] = "";
            nrec++;
        }
        const char **v = &val[(size_t)rec_of[r] * RM_NFIELDS];
        for (int f = 0; f < RM_NFIELDS; f++)
            if (!v[f][0] && t->v[i].off[f])
                v[f] = t->pool + t->v[i].off[f];
    }
    out->records = nrec;
    if (nrec < 2)
        goto out;
    if ((rc = match_table_new(&schema, nrec, val, &tab, e)) ||
        (rc = match_block(tab, NULL, rules, ARRAY_SIZE(rules), NULL, &pairs, NULL, e)))
        goto out;
    out->candidates = pairs.n;
    if (!pairs.n)
        goto out;
    struct match_model model;
    if ((rc = match_compare(tab, NULL, &pairs, &vec, e)))
        goto out;
    /* Names that differ only by characters read alike are "nearly equal". */
    for (size_t i = 0; i < pairs.n; i++) {
        uint8_t *lv = &vec.level[i * vec.nfields + RM_NAME];
        if (*lv >= 2 && *lv != MATCH_MISSING &&
            rm_names_sound_alike(val[pairs.pair[i].a * RM_NFIELDS + RM_NAME],
                                 val[pairs.pair[i].b * RM_NFIELDS + RM_NAME]))
            *lv = 1;
    }
    if ((rc = match_model_init(&model, &schema)) ||
        (rc = match_model_u_from_sample(&model, tab, NULL, RM_U_SAMPLE, RM_U_SEED, e)))
        goto out;
    /* u: random pairs. m: EM on the candidates, one field at a time on the pairs that
     * agree exactly on another, with that other left out. Fitted on all candidates
     * at once, EM splits them by the strongest field alone (namesakes: the pairs
     * blocked on the name are mostly other people of the same name); among the pairs
     * with one birth date, what tells a person apart is the name, and among those with
     * one name, the birth date. */
    if ((rc = fit_m(&model, &vec, RM_BIRTHDAY, RM_NAME, e)) ||
        (rc = fit_m(&model, &vec, RM_NAME, RM_BIRTHDAY, e)))
        goto out;
    floor_m(&model);
    fit_lambda(&model, &vec);
    out->fitted = true;
    w = malloc(pairs.n * sizeof(*w));
    order = malloc(pairs.n * sizeof(*order));
    if (!w || !order) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = match_score(&model, &vec, w, e)) ||
        (rc = adjust_name_frequency(&model, &vec, &pairs, val, nrec, w, e)))
        goto out;
    /* Surest links first: when limits refuse some, the strongest evidence has won. */
    for (size_t i = 0; i < pairs.n; i++)
        order[i] = (struct ranked){w[i], (uint32_t)i};
    qsort(order, pairs.n, sizeof(*order), cmp_weight_desc);
    for (size_t k = 0; k < pairs.n && !rc; k++) {
        size_t i = order[k].i;
        double p = match_probability(&model, w[i]);
        if (p < o->review_p)
            continue;
        const uint8_t *lv = &vec.level[i * vec.nfields];
        if (!plausible(lv))
            continue;
        struct rm_pair rp = {root[pairs.pair[i].a], root[pairs.pair[i].b], w[i], p, "", 0};
        describe(&vec.level[i * vec.nfields], rp.fields, sizeof(rp.fields));
        if (p >= o->link_p && confirmed(lv)) {
            rp.outcome = idgraph_link(g, rp.a, rp.b);
            out->refused += rp.outcome != IDGRAPH_LINKED;
            rc = push(&out->link, &out->nlink, &rp);
        } else {
            rc = push(&out->review, &out->nreview, &rp);
        }
    }
    if (rc)
        rc = err_set(e, ERR_NOMEM, "out of memory");
out:
    free(rec_of);
    free(root);
    free(val);
    free(w);
    free(order);
    match_table_free(tab);
    match_pairs_release(&pairs);
    match_vectors_release(&vec);
    if (rc)
        rm_result_release(out);
    return rc;
}
