/* names.c - the people of the demo world: names (with their pinyin, for e-mail
 * addresses), phones, e-mail addresses, member cards, account ids, marketplace
 * nicknames, WeChat ids; and the ways clerks mistype them.
 *
 * A person is a pure function of (seed, index): each attribute group draws from its
 * own generator, so a family member can look up the city and surname of the person
 * whose phone they share without making them whole. Identifiers that must be unique
 * (phone, e-mail, card, account, nicknames) come from demo_perm, a bijection, never
 * from chance. */
#include "demo/demo.h"

/* Tags of the attribute streams and of the unique-number bijections. */
enum {
    TAG_PERSON = 1,
    TAG_CITY,
    TAG_SURNAME,
    TAG_PHONE,
    TAG_PHONE_PREFIX,
    TAG_EMAIL,
    TAG_QQ,
    TAG_CARD,
    TAG_USER,
    TAG_TMALL,
    TAG_JD,
    TAG_OPENID,
    TAG_UNIONID,
    TAG_JOIN,
};

struct han {
    const char *han, *pinyin;
    float weight;
};

/* The commonest surnames, roughly by frequency. */
static const struct han surnames[] = {
    {"王", "wang", 7.2f},      {"李", "li", 7.0f},           {"张", "zhang", 6.9f},
    {"刘", "liu", 5.4f},       {"陈", "chen", 4.5f},         {"杨", "yang", 3.1f},
    {"黄", "huang", 2.4f},     {"赵", "zhao", 2.0f},         {"吴", "wu", 2.0f},
    {"周", "zhou", 1.9f},      {"徐", "xu", 1.5f},           {"孙", "sun", 1.4f},
    {"马", "ma", 1.3f},        {"朱", "zhu", 1.2f},          {"胡", "hu", 1.2f},
    {"郭", "guo", 1.1f},       {"何", "he", 1.1f},           {"林", "lin", 1.1f},
    {"高", "gao", 1.0f},       {"罗", "luo", 0.9f},          {"郑", "zheng", 0.9f},
    {"梁", "liang", 0.8f},     {"谢", "xie", 0.7f},          {"宋", "song", 0.6f},
    {"唐", "tang", 0.6f},      {"许", "xu", 0.6f},           {"韩", "han", 0.6f},
    {"冯", "feng", 0.5f},      {"邓", "deng", 0.5f},         {"曹", "cao", 0.5f},
    {"彭", "peng", 0.5f},      {"曾", "zeng", 0.5f},         {"肖", "xiao", 0.5f},
    {"田", "tian", 0.5f},      {"董", "dong", 0.4f},         {"潘", "pan", 0.4f},
    {"袁", "yuan", 0.4f},      {"蔡", "cai", 0.4f},          {"蒋", "jiang", 0.4f},
    {"余", "yu", 0.4f},        {"于", "yu", 0.4f},           {"杜", "du", 0.4f},
    {"叶", "ye", 0.4f},        {"程", "cheng", 0.4f},        {"魏", "wei", 0.3f},
    {"苏", "su", 0.3f},        {"吕", "lv", 0.3f},           {"丁", "ding", 0.3f},
    {"任", "ren", 0.3f},       {"沈", "shen", 0.3f},         {"姚", "yao", 0.3f},
    {"卢", "lu", 0.3f},        {"钟", "zhong", 0.3f},        {"姜", "jiang", 0.3f},
    {"崔", "cui", 0.3f},       {"谭", "tan", 0.3f},          {"陆", "lu", 0.3f},
    {"范", "fan", 0.2f},       {"汪", "wang", 0.2f},         {"廖", "liao", 0.2f},
    {"石", "shi", 0.2f},       {"金", "jin", 0.2f},          {"贾", "jia", 0.2f},
    {"夏", "xia", 0.2f},       {"付", "fu", 0.2f},           {"方", "fang", 0.2f},
    {"邹", "zou", 0.2f},       {"熊", "xiong", 0.2f},        {"白", "bai", 0.2f},
    {"孟", "meng", 0.2f},      {"秦", "qin", 0.2f},          {"邱", "qiu", 0.2f},
    {"侯", "hou", 0.2f},       {"江", "jiang", 0.2f},        {"尹", "yin", 0.2f},
    {"薛", "xue", 0.2f},       {"段", "duan", 0.1f},         {"雷", "lei", 0.1f},
    {"龙", "long", 0.1f},      {"史", "shi", 0.1f},          {"陶", "tao", 0.1f},
    {"贺", "he", 0.1f},        {"毛", "mao", 0.1f},          {"顾", "gu", 0.1f},
    {"龚", "gong", 0.1f},      {"邵", "shao", 0.1f},         {"万", "wan", 0.1f},
    {"钱", "qian", 0.1f},      {"戴", "dai", 0.1f},          {"严", "yan", 0.1f},
    {"欧阳", "ouyang", 0.05f}, {"上官", "shangguan", 0.02f}, {"司马", "sima", 0.02f},
    {"诸葛", "zhuge", 0.01f},
};

/* Characters of given names; several share a pinyin, which is how names get typed
 * wrong (伟/玮/炜). */
static const struct han given_female[] = {
    {"芳", "fang", 1}, {"娜", "na", 1},   {"敏", "min", 1},  {"静", "jing", 1}, {"丽", "li", 1},
    {"艳", "yan", 1},  {"娟", "juan", 1}, {"霞", "xia", 1},  {"燕", "yan", 1},  {"玲", "ling", 1},
    {"婷", "ting", 1}, {"雪", "xue", 1},  {"琳", "lin", 1},  {"慧", "hui", 1},  {"颖", "ying", 1},
    {"倩", "qian", 1}, {"欣", "xin", 1},  {"怡", "yi", 1},   {"佳", "jia", 1},  {"梦", "meng", 1},
    {"雨", "yu", 1},   {"萱", "xuan", 1}, {"晓", "xiao", 1}, {"月", "yue", 1},  {"悦", "yue", 1},
    {"琪", "qi", 1},   {"瑶", "yao", 1},  {"诗", "shi", 1},  {"涵", "han", 1},  {"思", "si", 1},
    {"嘉", "jia", 1},  {"美", "mei", 1},  {"晶", "jing", 1}, {"秀", "xiu", 1},  {"英", "ying", 1},
    {"红", "hong", 1}, {"莉", "li", 1},   {"婧", "jing", 1}, {"妍", "yan", 1},  {"茜", "qian", 1},
};
static const struct han given_male[] = {
    {"伟", "wei", 1},  {"强", "qiang", 1}, {"磊", "lei", 1},  {"军", "jun", 1},  {"洋", "yang", 1},
    {"勇", "yong", 1}, {"杰", "jie", 1},   {"涛", "tao", 1},  {"明", "ming", 1}, {"超", "chao", 1},
    {"刚", "gang", 1}, {"平", "ping", 1},  {"辉", "hui", 1},  {"鹏", "peng", 1}, {"华", "hua", 1},
    {"飞", "fei", 1},  {"鑫", "xin", 1},   {"波", "bo", 1},   {"斌", "bin", 1},  {"宇", "yu", 1},
    {"浩", "hao", 1},  {"凯", "kai", 1},   {"健", "jian", 1}, {"俊", "jun", 1},  {"帆", "fan", 1},
    {"旭", "xu", 1},   {"宁", "ning", 1},  {"龙", "long", 1}, {"林", "lin", 1},  {"博", "bo", 1},
    {"文", "wen", 1},  {"轩", "xuan", 1},  {"昊", "hao", 1},  {"然", "ran", 1},  {"晨", "chen", 1},
    {"阳", "yang", 1}, {"子", "zi", 1},    {"泽", "ze", 1},   {"天", "tian", 1}, {"玮", "wei", 1},
    {"炜", "wei", 1},  {"建", "jian", 1},
};

static const char *const english_female[] = {"Emily", "Grace", "Cherry", "Vivian", "Sophia",
                                             "Linda", "Amy",   "Coco",   "Iris",   "Nina"};
static const char *const english_male[] = {"David", "Michael", "Kevin", "Jason", "Tony",
                                           "Eric",  "Jack",    "Leo",   "Frank", "Alex"};

/* Words that marketplace nicknames are made of. */
static const char *const nick_words[] = {"小白兔", "快乐的鱼", "星星", "阳光",  "momo",
                                         "甜甜圈", "大橘子",   "追风", "lucky", "小可爱",
                                         "夏天",   "喵喵",     "tb",   "糖果",  "木子"};

/* Mobile prefixes of the three carriers. */
static const char *const phone_prefixes[] = {
    "139", "138", "137", "136", "135", "134", "150", "151", "152", "157", "158",
    "159", "182", "183", "187", "188", "147", "130", "131", "132", "155", "156",
    "185", "186", "166", "133", "153", "180", "181", "189", "177", "199", "191"};

const char *const demo_junk_phones[] = {"13800000000", "13800138000", "13888888888"};
const size_t demo_njunk_phones = ARRAY_SIZE(demo_junk_phones);

static size_t pick_han(struct demo_rng *r, const struct han *t, size_t n)
{
    float w[ARRAY_SIZE(surnames)];
    for (size_t i = 0; i < n; i++)
        w[i] = t[i].weight;
    return demo_rng_weighted(r, w, n);
}

static int city_of(const struct demo_world *w, uint32_t idx)
{
    struct demo_rng r;
    demo_rng_seed(&r, demo_hash(w->seed, idx, TAG_CITY, 0));
    float wt[32];
    for (size_t i = 0; i < demo_ncities; i++)
        wt[i] = demo_cities[i].weight;
    return (int)demo_rng_weighted(&r, wt, demo_ncities);
}

static size_t surname_of(const struct demo_world *w, uint32_t idx)
{
    struct demo_rng r;
    demo_rng_seed(&r, demo_hash(w->seed, idx, TAG_SURNAME, 0));
    return pick_han(&r, surnames, ARRAY_SIZE(surnames));
}

static bool is_junk_phone(const char *s)
{
    for (size_t i = 0; i < demo_njunk_phones; i++)
        if (strcmp(s, demo_junk_phones[i]) == 0)
            return true;
    return false;
}

void demo_phone_of(const struct demo_world *w, uint32_t idx, char out[16])
{
    const char *prefix =
        phone_prefixes[demo_hash(w->seed, idx, TAG_PHONE_PREFIX, 0) % ARRAY_SIZE(phone_prefixes)];
    /* The suffix is unique per customer. The few that would read as a junk number
     * take the image of a number no customer index reaches (>= 10^7) instead. */
    uint64_t x = idx;
    for (uint64_t spare = 99999999;; spare--) {
        uint64_t suffix = demo_perm(w->seed, TAG_PHONE, x, 100000000);
        snprintf(out, 16, "%s%08" PRIu64, prefix, suffix);
        if (!is_junk_phone(out))
            return;
        x = spare;
    }
}

/* Lower-cases the ASCII letters of s in place. */
static void lower_ascii(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static void make_email(const struct demo_world *w, struct demo_rng *r, struct demo_person *p,
                       const char *sur_py, const char *given_py)
{
    static const char *const domains[] = {"163.com",     "126.com",     "gmail.com", "outlook.com",
                                          "sina.com",    "foxmail.com", "139.com",   "icloud.com",
                                          "hotmail.com", "yeah.net"};
    static const float domain_w[] = {22, 9, 8, 7, 5, 6, 5, 9, 3, 3};
    if (demo_rng_chance(r, 0.33)) {
        uint64_t qq = 100000 + demo_perm(w->seed, TAG_QQ, p->idx, 1000000000);
        snprintf(p->email, sizeof(p->email), "%" PRIu64 "@qq.com", qq);
        return;
    }
    uint64_t n = demo_perm(w->seed, TAG_EMAIL, p->idx, w->perm_mod);
    const char *domain = domains[demo_rng_weighted(r, domain_w, ARRAY_SIZE(domain_w))];
    char local[40];
    switch (demo_rng_below(r, 4)) {
    case 0:
        snprintf(local, sizeof(local), "%s%s%" PRIu64, sur_py, given_py, n);
        break;
    case 1:
        snprintf(local, sizeof(local), "%s.%s%" PRIu64, given_py, sur_py, n);
        break;
    case 2:
        snprintf(local, sizeof(local), "%s_%s%" PRIu64, sur_py, given_py, n);
        break;
    default:
        snprintf(local, sizeof(local), "%c%s%" PRIu64, given_py[0] ? given_py[0] : 'x', sur_py, n);
    }
    lower_ascii(local);
    snprintf(p->email, sizeof(p->email), "%s@%s", local, domain);
}

/* A WeChat-style id: 'o' and 27 characters of base64url. */
static void wechat_id(const struct demo_world *w, uint32_t idx, int tag, char out[32])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    out[0] = 'o';
    uint64_t h = 0;
    for (int i = 0; i < 27; i++) {
        if (i % 10 == 0)
            h = demo_hash(w->seed, idx, (uint64_t)tag, (uint64_t)i);
        out[1 + i] = b64[h & 63];
        h >>= 6;
    }
    out[28] = '\0';
}

static void make_name(struct demo_rng *r, struct demo_person *p, size_t sur, char *given_py,
                      size_t gcap)
{
    const struct han *g = p->gender ? given_male : given_female;
    size_t ng = p->gender ? ARRAY_SIZE(given_male) : ARRAY_SIZE(given_female);
    size_t a = demo_rng_below(r, (uint32_t)ng), b = demo_rng_below(r, (uint32_t)ng);
    bool two = demo_rng_chance(r, 0.7);
    char cap_sur[24];
    snprintf(cap_sur, sizeof(cap_sur), "%s", surnames[sur].pinyin);
    cap_sur[0] = (char)(cap_sur[0] - 'a' + 'A');
    if (two)
        snprintf(given_py, gcap, "%s%s", g[a].pinyin, g[b].pinyin);
    else
        snprintf(given_py, gcap, "%s", g[a].pinyin);
    double style = demo_rng_unit(r);
    if (style < 0.05) { /* an English name and the surname: "David Wang" */
        const char *first = p->gender
                                ? english_male[demo_rng_below(r, ARRAY_SIZE(english_male))]
                                : english_female[demo_rng_below(r, ARRAY_SIZE(english_female))];
        snprintf(p->name, sizeof(p->name), "%s %s", first, cap_sur);
        snprintf(given_py, gcap, "%s", first);
        lower_ascii(given_py);
    } else if (style < 0.07) { /* pinyin, given name first: "Wei Zhang" */
        char cap_given[32];
        snprintf(cap_given, sizeof(cap_given), "%s", given_py);
        cap_given[0] = (char)(cap_given[0] - 'a' + 'A');
        snprintf(p->name, sizeof(p->name), "%s %s", cap_given, cap_sur);
    } else if (two) {
        snprintf(p->name, sizeof(p->name), "%s%s%s", surnames[sur].han, g[a].han, g[b].han);
    } else {
        snprintf(p->name, sizeof(p->name), "%s%s", surnames[sur].han, g[a].han);
    }
}

static void set_channels(struct demo_rng *r, struct demo_person *p)
{
    /* store-first, marketplace-first, app-first, web-first, WeChat-first */
    static const float profiles[5][CH_COUNT] = {{0.55f, 0.15f, 0.05f, 0.15f, 0.10f},
                                                {0.05f, 0.60f, 0.10f, 0.10f, 0.15f},
                                                {0.15f, 0.15f, 0.05f, 0.50f, 0.15f},
                                                {0.10f, 0.15f, 0.50f, 0.10f, 0.15f},
                                                {0.15f, 0.10f, 0.05f, 0.10f, 0.60f}};
    static const float profile_w[5] = {35, 30, 18, 9, 8};
    size_t k = demo_rng_weighted(r, profile_w, 5);
    memcpy(p->channel, profiles[k], sizeof(p->channel));
    if (p->store == DEMO_NO_STORE)
        p->channel[CH_POS] = 0;
    if (p->archetype == ARCH_BROWSER)
        p->channel[CH_POS] = p->channel[CH_MARKET] = 0;
    static const float buy[CH_COUNT] = {1, 1, 0.30f, 0.35f, 0.30f};
    float f = p->archetype == ARCH_LOYAL     ? 1.3f
              : p->archetype == ARCH_REGULAR ? 0.9f
              : p->archetype == ARCH_BROWSER ? 0.0f
                                             : 1.0f;
    for (int c = 0; c < CH_COUNT; c++)
        p->buy[c] = c <= CH_MARKET ? 1.0f : buy[c] * f;
}

static void set_life(const struct demo_world *w, struct demo_rng *r, struct demo_person *p)
{
    static const float arch_w[] = {15, 30, 20, 27, 8};
    p->archetype = (uint8_t)demo_rng_weighted(r, arch_w, ARRAY_SIZE(arch_w));
    static const float rate[] = {1.0f / 26, 1.0f / 70, 1.0f / 35, 1.0f / 30, 1.0f / 30};
    p->rate = rate[p->archetype] * (float)(0.6 + demo_rng_unit(r));
    double pre = p->archetype <= ARCH_CHURNER ? 0.45 : 0.12;
    p->pre_existing = demo_rng_chance(r, pre);
    if (p->pre_existing) {
        p->join_day = 0;
    } else {
        /* New customers come more often when promotions run. */
        struct demo_rng jr;
        demo_rng_seed(&jr, demo_hash(w->seed, p->idx, TAG_JOIN, 0));
        int d;
        do
            d = (int)demo_rng_below(&jr, DEMO_DAYS - 7);
        while (!demo_rng_chance(&jr, w->days[d].online / w->wmax * 2.0));
        p->join_day = (uint16_t)d;
    }
    p->end_day = DEMO_DAYS;
    if (p->archetype == ARCH_CHURNER) {
        int end = p->join_day + demo_rng_range(r, 45, 400);
        p->end_day = (uint16_t)(end < DEMO_DAYS ? end : DEMO_DAYS);
    }
    if (p->archetype == ARCH_ONE_TIME)
        p->extra = (uint8_t)demo_rng_below(r, 3);
    else if (p->archetype == ARCH_BROWSER)
        p->extra = (uint8_t)demo_rng_below(r, 4);
    static const float account[] = {0.95f, 0.80f, 0.70f, 0.40f, 0.25f};
    p->has_account = demo_rng_chance(r, account[p->archetype]);
    p->reg_visit =
        p->pre_existing || demo_rng_chance(r, 0.6) ? 0 : (uint8_t)demo_rng_range(r, 1, 3);
    if (p->pre_existing) {
        /* registered some time in 2019-2023 */
        p->crm_created = -(int64_t)demo_rng_range(r, 30, 5 * 365) * 86400 -
                         (int64_t)demo_rng_below(r, 12 * 3600) - 9 * 3600;
    }
    p->crm_dup = demo_rng_chance(r, 0.08);
}

void demo_person_make(const struct demo_world *w, uint32_t idx, struct demo_person *p)
{
    struct demo_rng r;
    demo_rng_seed(&r, demo_hash(w->seed, idx, TAG_PERSON, 0));
    memset(p, 0, sizeof(*p));
    p->idx = idx;
    snprintf(p->id, sizeof(p->id), "P%08" PRIu32, idx + 1);
    p->family = DEMO_NO_FAMILY;
    /* About 2% of customers share a phone with the customer before them (spouses,
     * a parent and a child): same city, often the same surname. */
    bool family = idx > 0 && (idx & 1) && demo_hash(w->seed, idx, TAG_PERSON, 1) % 100 < 4;
    if (family)
        p->family = idx - 1;
    p->city = (uint8_t)city_of(w, family ? idx - 1 : idx);
    size_t sur = surname_of(w, family && demo_rng_chance(&r, 0.5) ? idx - 1 : idx);
    set_life(w, &r, p);
    p->gender = demo_rng_chance(&r, 0.42);
    static const float age_w[] = {4, 9, 14, 18, 20, 16, 10, 6, 3}; /* 5-year bands from 1965 */
    p->birth_year = (uint16_t)(1965 + 5 * demo_rng_weighted(&r, age_w, ARRAY_SIZE(age_w)) +
                               demo_rng_below(&r, 5));
    p->birth_month = (uint8_t)demo_rng_range(&r, 1, 12);
    p->birth_day = (uint8_t)demo_rng_range(&r, 1, 28);
    static const float fav_f[CAT_COUNT] = {20, 30, 12, 20, 12, 6};
    static const float fav_m[CAT_COUNT] = {12, 8, 20, 15, 15, 30};
    float fav[CAT_COUNT];
    memcpy(fav, p->gender ? fav_m : fav_f, sizeof(fav));
    if (p->birth_year >= 1985 && p->birth_year <= 1997)
        fav[CAT_BABY] *= 1.5f;
    p->fav = (uint8_t)demo_rng_weighted(&r, fav, CAT_COUNT);
    size_t stores[8], ns = 0;
    for (size_t i = 0; i < demo_nstores && ns < ARRAY_SIZE(stores); i++)
        if (demo_stores[i].city == p->city)
            stores[ns++] = i;
    p->store = ns ? (uint8_t)stores[demo_rng_below(&r, (uint32_t)ns)] : DEMO_NO_STORE;
    set_channels(&r, p);
    p->is_member = p->has_account && demo_rng_chance(&r, p->channel[CH_POS] > 0.3f ? 0.92 : 0.7);
    p->market = demo_rng_chance(&r, 0.35);
    p->ios = demo_rng_chance(&r, 0.45);
    p->has_unionid = demo_rng_chance(&r, 0.85);

    char given_py[32];
    make_name(&r, p, sur, given_py, sizeof(given_py));
    demo_phone_of(w, family ? idx - 1 : idx, p->phone);
    make_email(w, &r, p, surnames[sur].pinyin, given_py);
    snprintf(p->card, sizeof(p->card), "880%09" PRIu64,
             demo_perm(w->seed, TAG_CARD, idx, 1000000000));
    snprintf(p->user_id, sizeof(p->user_id), "U%08" PRIu64,
             demo_perm(w->seed, TAG_USER, idx, 100000000));
    snprintf(p->tmall_nick, sizeof(p->tmall_nick), "%s%" PRIu64,
             nick_words[demo_rng_below(&r, ARRAY_SIZE(nick_words))],
             demo_perm(w->seed, TAG_TMALL, idx, w->perm_mod));
    snprintf(p->jd_nick, sizeof(p->jd_nick), "jd_%s%s%" PRIu64, surnames[sur].pinyin, given_py,
             demo_perm(w->seed, TAG_JD, idx, w->perm_mod));
    lower_ascii(p->jd_nick);
    wechat_id(w, idx, TAG_OPENID, p->openid);
    wechat_id(w, idx, TAG_UNIONID, p->unionid);
    static const uint8_t octets[] = {58,  59,  60,  61,  101, 106, 110, 111, 112, 113, 114, 115,
                                     116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 180, 182,
                                     183, 202, 210, 211, 218, 219, 220, 221, 222, 223};
    snprintf(p->ip, sizeof(p->ip), "%u.%u.%u.%u", octets[demo_rng_below(&r, ARRAY_SIZE(octets))],
             demo_rng_below(&r, 256), demo_rng_below(&r, 256), 1 + demo_rng_below(&r, 254));
}

/* ---- How clerks and customers write things ---------------------------------------- */

void demo_phone_style(const char *phone, int style, char *out, size_t cap)
{
    const char *s = phone;
    switch (style) {
    case 1:
        snprintf(out, cap, "+86 %.3s %.4s %.4s", s, s + 3, s + 7);
        break;
    case 2:
        snprintf(out, cap, "0086-%s", s);
        break;
    case 3:
        snprintf(out, cap, "(+86)%s", s);
        break;
    case 4:
        snprintf(out, cap, "%.3s-%.4s-%.4s", s, s + 3, s + 7);
        break;
    case 5:
        snprintf(out, cap, "+86%s", s);
        break;
    case 6: { /* full-width digits, as typed with a Chinese input method */
        size_t o = 0;
        for (; *s && o + 4 <= cap; s++) {
            out[o++] = (char)0xef;
            out[o++] = (char)0xbc;
            out[o++] = (char)(0x90 + (*s - '0'));
        }
        out[o < cap ? o : cap - 1] = '\0';
        break;
    }
    case 7:
        snprintf(out, cap, "%.3s %.4s %.4s", s, s + 3, s + 7);
        break;
    case 8:
        snprintf(out, cap, "86-%s", s);
        break;
    default:
        snprintf(out, cap, "%s", s);
    }
}

void demo_phone_messy(struct demo_rng *r, const char *phone, char *out, size_t cap)
{
    static const float style_w[] = {56, 8, 6, 5, 7, 5, 4, 6, 1};
    double x = demo_rng_unit(r);
    if (x < 0.02) { /* the clerk's placeholder */
        snprintf(out, cap, "%s", demo_junk_phones[demo_rng_below(r, (uint32_t)demo_njunk_phones)]);
    } else if (x < 0.03) { /* a digit short */
        snprintf(out, cap, "%.10s", phone);
    } else if (x < 0.04) { /* a digit too many */
        snprintf(out, cap, "%s%c", phone, phone[10]);
    } else {
        int style = (int)demo_rng_weighted(r, style_w, ARRAY_SIZE(style_w));
        demo_phone_style(phone, style, out, cap);
    }
}

void demo_email_messy(struct demo_rng *r, const char *email, char *out, size_t cap)
{
    double x = demo_rng_unit(r);
    if (x < 0.05) {
        snprintf(out, cap, "%s", "");
    } else if (x < 0.07) {
        snprintf(out, cap, "%s", "null");
    } else if (x < 0.09) {
        snprintf(out, cap, "%s", "test@test.com");
    } else if (x < 0.17) { /* caps lock */
        snprintf(out, cap, "%s", email);
        for (char *s = out; *s; s++)
            if (*s >= 'a' && *s <= 'z')
                *s = (char)(*s - 'a' + 'A');
    } else if (x < 0.23) { /* a capital first letter and domain */
        snprintf(out, cap, "%s", email);
        if (out[0] >= 'a' && out[0] <= 'z')
            out[0] = (char)(out[0] - 'a' + 'A');
        char *at = strchr(out, '@');
        for (char *s = at; s && *s && *s != '.'; s++)
            if (*s >= 'a' && *s <= 'z')
                *s = (char)(*s - 'a' + 'A');
    } else if (x < 0.29) {
        snprintf(out, cap, " %s ", email);
    } else {
        snprintf(out, cap, "%s", email);
    }
}

/* The index of the given-name character at s (3 UTF-8 bytes) in either table, with the
 * table; NULL if none. */
static const struct han *find_given(const char *s)
{
    for (size_t i = 0; i < ARRAY_SIZE(given_female); i++)
        if (memcmp(s, given_female[i].han, 3) == 0)
            return &given_female[i];
    for (size_t i = 0; i < ARRAY_SIZE(given_male); i++)
        if (memcmp(s, given_male[i].han, 3) == 0)
            return &given_male[i];
    return NULL;
}

/* Another character read the same way as h, or NULL. */
static const struct han *homophone(struct demo_rng *r, const struct han *h)
{
    const struct han *found[8];
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(given_female) && n < 8; i++)
        if (&given_female[i] != h && strcmp(given_female[i].pinyin, h->pinyin) == 0)
            found[n++] = &given_female[i];
    for (size_t i = 0; i < ARRAY_SIZE(given_male) && n < 8; i++)
        if (&given_male[i] != h && strcmp(given_male[i].pinyin, h->pinyin) == 0)
            found[n++] = &given_male[i];
    return n ? found[demo_rng_below(r, (uint32_t)n)] : NULL;
}

void demo_name_variant(struct demo_rng *r, const char *name, int gender, char *out, size_t cap)
{
    size_t n = strlen(name);
    if (!n || (unsigned char)name[0] < 0x80) { /* a Latin name */
        snprintf(out, cap, "%s", name);
        double x = demo_rng_unit(r);
        if (x < 0.4) {
            lower_ascii(out);
        } else if (x < 0.7 && n > 4) { /* a letter dropped */
            size_t at = 1 + demo_rng_below(r, (uint32_t)(n - 2));
            memmove(out + at, out + at + 1, n - at);
        } else { /* "Wang David" */
            const char *sp = strchr(name, ' ');
            if (sp)
                snprintf(out, cap, "%s %.*s", sp + 1, (int)(sp - name), name);
        }
        return;
    }
    /* Chinese: the last character is a given-name character (3 bytes). */
    double x = demo_rng_unit(r);
    const struct han *last = n >= 6 ? find_given(name + n - 3) : NULL;
    const struct han *alt = last ? homophone(r, last) : NULL;
    if (x < 0.5 && alt) {
        snprintf(out, cap, "%.*s%s", (int)(n - 3), name, alt->han);
    } else if (x < 0.7) { /* a space after the surname */
        snprintf(out, cap, "%.3s %s", name, name + 3);
    } else if (x < 0.85 && n >= 9) { /* the last character missed */
        snprintf(out, cap, "%.*s", (int)(n - 3), name);
    } else { /* only the surname and a courtesy title */
        snprintf(out, cap, "%.3s%s", name, gender ? "先生" : "女士");
    }
}
