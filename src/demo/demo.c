/* demo.c - the demo world's clock and files: opens the output directory, runs every
 * customer's life in time order through a min-heap, writes each record with its
 * ground-truth row, then the mapping files and the README. See demo.h. */
#include <iconv.h>
#include <sys/stat.h>

#include "demo/demo.h"

#define DEMO_FILE_BUFFER (1 << 20) /* stdio buffer of each output file */
#define DEMO_PATH_MAX    4096

enum { TAG_VISIT = 201, TAG_FOLLOW, TAG_FIRST };

static const char *const source_names[DEMO_SOURCE_COUNT] = {
    "pos", "crm", "marketplace", "service", "reviews", "web", "app", "miniprogram"};
static const char *const source_files[DEMO_SOURCE_COUNT] = {
    "pos_receipts.csv", "crm_contacts.csv", "marketplace_orders.csv", "service_tickets.csv",
    "reviews.csv",      "web_events.jsonl", "app_events.jsonl",       "miniprogram_events.jsonl"};

const char *demo_source_name(enum demo_source s)
{
    return s < DEMO_SOURCE_COUNT ? source_names[s] : "?";
}

const char *demo_source_file(enum demo_source s)
{
    return s < DEMO_SOURCE_COUNT ? source_files[s] : "?";
}

/* ---- Mapping files (docs/import.md); column names as in rows.c ------------------- */

static const char *const mappings[DEMO_SOURCE_COUNT] = {
    [DEMO_POS] = "{\n"
                 "  \"format\": \"csv\",\n"
                 "  \"encoding\": \"gbk\",\n"
                 "  \"kind\": \"order_line\",\n"
                 "  \"record_key\": [\"小票号\", \"行号\"],\n"
                 "  \"time_zone\": \"+08:00\",\n"
                 "  \"time_formats\": [\"%Y/%m/%d %H:%M:%S\"],\n"
                 "  \"money\": {\"currency\": \"CNY\", \"decimal\": \".\", \"thousands\": \",\",\n"
                 "            \"symbols\": {\"¥\": \"CNY\", \"￥\": \"CNY\"}},\n"
                 "  \"columns\": {\n"
                 "    \"小票号\": {\"order\": \"order_id\", \"required\": true},\n"
                 "    \"行号\": {\"ignore\": true},\n"
                 "    \"门店\": {\"order\": \"store\"},\n"
                 "    \"交易时间\": {\"order\": \"time\", \"required\": true},\n"
                 "    \"会员卡号\": {\"identifier\": \"member_card\"},\n"
                 "    \"手机号\": {\"identifier\": \"phone\"},\n"
                 "    \"商品编码\": {\"line\": \"sku\", \"required\": true},\n"
                 "    \"商品名称\": {\"line\": \"name\"},\n"
                 "    \"品类\": {\"line\": \"category\"},\n"
                 "    \"数量\": {\"line\": \"quantity\"},\n"
                 "    \"单价\": {\"line\": \"unit_price\"},\n"
                 "    \"金额\": {\"line\": \"amount\"},\n"
                 "    \"收银员\": {\"ignore\": true}\n"
                 "  }\n"
                 "}\n",
    [DEMO_CRM] = "{\n"
                 "  \"format\": \"csv\",\n"
                 "  \"encoding\": \"utf-8\",\n"
                 "  \"kind\": \"contact\",\n"
                 "  \"record_key\": \"contact_id\",\n"
                 "  \"time_zone\": \"+08:00\",\n"
                 "  \"time_formats\": [\"%Y-%m-%d %H:%M:%S\"],\n"
                 "  \"columns\": {\n"
                 "    \"contact_id\": {\"identifier\": \"crm_id\", \"required\": true},\n"
                 "    \"name\": {\"trait\": \"name\"},\n"
                 "    \"email\": {\"identifier\": \"email\"},\n"
                 "    \"mobile\": {\"identifier\": \"phone\"},\n"
                 "    \"city\": {\"trait\": \"city\"},\n"
                 "    \"birthday\": {\"trait\": \"birthday\"},\n"
                 "    \"gender\": {\"trait\": \"gender\"},\n"
                 "    \"member_card\": {\"identifier\": \"member_card\"},\n"
                 "    \"created_at\": {\"trait\": \"crm_created_at\"},\n"
                 "    \"registered_via\": {\"trait\": \"registered_via\"}\n"
                 "  }\n"
                 "}\n",
    [DEMO_MARKETPLACE] = "{\n"
                         "  \"format\": \"csv\",\n"
                         "  \"encoding\": \"utf-8\",\n"
                         "  \"kind\": \"order\",\n"
                         "  \"record_key\": \"订单编号\",\n"
                         "  \"time_zone\": \"+08:00\",\n"
                         "  \"time_formats\": [\"%Y-%m-%d %H:%M:%S\"],\n"
                         "  \"money\": {\"currency\": \"CNY\", \"symbols\": {\"¥\": \"CNY\", "
                         "\"￥\": \"CNY\"}},\n"
                         "  \"columns\": {\n"
                         "    \"订单编号\": {\"order\": \"order_id\", \"required\": true},\n"
                         "    \"买家昵称\": {\"identifier\": \"marketplace_buyer\"},\n"
                         "    \"收货人手机\": {\"identifier\": \"phone\"},\n"
                         "    \"实付金额\": {\"order\": \"amount\"},\n"
                         "    \"订单状态\": {\"order\": \"status\"},\n"
                         "    \"下单时间\": {\"order\": \"time\", \"required\": true},\n"
                         "    \"店铺\": {\"order\": \"store\"},\n"
                         "    \"收货城市\": {\"trait\": \"city\"},\n"
                         "    \"商品标题\": {\"ignore\": true},\n"
                         "    \"购买数量\": {\"ignore\": true}\n"
                         "  }\n"
                         "}\n",
    [DEMO_SERVICE] = "{\n"
                     "  \"format\": \"csv\",\n"
                     "  \"encoding\": \"utf-8\",\n"
                     "  \"kind\": \"ticket\",\n"
                     "  \"record_key\": \"ticket_id\",\n"
                     "  \"time_zone\": \"+08:00\",\n"
                     "  \"columns\": {\n"
                     "    \"ticket_id\": {\"field\": \"ticket_id\", \"required\": true},\n"
                     "    \"created_at\": {\"field\": \"time\"},\n"
                     "    \"channel\": {\"field\": \"channel\"},\n"
                     "    \"phone\": {\"identifier\": \"phone\"},\n"
                     "    \"email\": {\"identifier\": \"email\"},\n"
                     "    \"subject\": {\"field\": \"subject\"},\n"
                     "    \"body\": {\"field\": \"text\"},\n"
                     "    \"status\": {\"field\": \"status\"}\n"
                     "  }\n"
                     "}\n",
    [DEMO_REVIEWS] = "{\n"
                     "  \"format\": \"csv\",\n"
                     "  \"encoding\": \"utf-8\",\n"
                     "  \"kind\": \"review\",\n"
                     "  \"record_key\": \"review_id\",\n"
                     "  \"time_zone\": \"+08:00\",\n"
                     "  \"time_formats\": [\"%Y-%m-%d %H:%M:%S\"],\n"
                     "  \"columns\": {\n"
                     "    \"review_id\": {\"field\": \"review_id\", \"required\": true},\n"
                     "    \"created_at\": {\"field\": \"time\"},\n"
                     "    \"platform\": {\"field\": \"channel\"},\n"
                     "    \"buyer_nick\": {\"identifier\": \"marketplace_buyer\"},\n"
                     "    \"member_card\": {\"identifier\": \"member_card\"},\n"
                     "    \"sku\": {\"field\": \"sku\"},\n"
                     "    \"rating\": {\"field\": \"rating\"},\n"
                     "    \"content\": {\"field\": \"text\"}\n"
                     "  }\n"
                     "}\n",
    [DEMO_WEB] = "{\"format\": \"jsonl\"}\n",
    [DEMO_APP] = "{\"format\": \"jsonl\"}\n",
    [DEMO_MINIPROGRAM] = "{\"format\": \"jsonl\"}\n",
};

/* ---- Files -------------------------------------------------------------------------- */

/* mkdir -p: creates dir and its missing parents. */
static int make_dirs(const char *dir, struct err *e)
{
    char path[DEMO_PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path))
        return err_set(e, ERR_INVALID, "the output directory name is empty or too long");
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        struct stat sb;
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return err_set(e, ERR_IO, "cannot create %s: %s", path, strerror(errno));
        if (stat(path, &sb) != 0)
            return err_set(e, ERR_IO, "cannot create %s: %s", path, strerror(errno));
        if (!S_ISDIR(sb.st_mode))
            return err_set(e, ERR_IO, "cannot create %s: a file of that name is in the way", dir);
        path[i] = c;
    }
    return 0;
}

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int sink_open(struct demo_sink *s, const char *dir, const char *name, struct err *e)
{
    s->path = join_path(dir, name);
    if (!s->path)
        return err_set(e, ERR_NOMEM, "out of memory");
    s->f = fopen(s->path, "wb");
    if (!s->f)
        return err_set(e, ERR_IO, "cannot write %s: %s", s->path, strerror(errno));
    setvbuf(s->f, NULL, _IOFBF, DEMO_FILE_BUFFER);
    return 0;
}

static int sink_close(struct demo_sink *s, int rc, struct err *e)
{
    if (s->f) {
        bool bad = ferror(s->f) != 0;
        if (fclose(s->f) != 0 || bad)
            if (!rc)
                rc = err_set(e, ERR_IO, "cannot write %s: %s", s->path,
                             errno ? strerror(errno) : "I/O error");
        s->f = NULL;
    }
    free(s->path);
    s->path = NULL;
    return rc;
}

static int write_file(const char *dir, const char *name, const char *text, struct err *e)
{
    struct demo_sink s = {0};
    int rc = sink_open(&s, dir, name, e);
    if (!rc && fputs(text, s.f) == EOF)
        rc = err_set(e, ERR_IO, "cannot write %s: %s", s.path, strerror(errno));
    return sink_close(&s, rc, e);
}

/* Converts w->row to GBK into w->conv; returns its length, or SIZE_MAX. */
static size_t to_gbk(struct demo_world *w)
{
    char *in = w->row.p, *out = w->conv;
    size_t inleft = w->row.len, outleft = sizeof(w->conv);
    iconv(w->gbk, NULL, NULL, NULL, NULL);
    if (iconv(w->gbk, &in, &inleft, &out, &outleft) == (size_t)-1)
        return SIZE_MAX;
    return sizeof(w->conv) - outleft;
}

void demo_emit(struct demo_world *w, enum demo_source s, const char *key,
               const struct demo_person *p)
{
    if (w->rc)
        return;
    struct demo_sink *sink = &w->sink[s];
    if (w->row.overflow) {
        w->rc = err_set(w->e, ERR_LIMIT, "a record of %s is longer than %d bytes", source_files[s],
                        DEMO_ROW_MAX);
        return;
    }
    const char *out = w->row.p;
    size_t n = w->row.len;
    if (s == DEMO_POS) {
        n = to_gbk(w);
        out = w->conv;
        if (n == SIZE_MAX) {
            w->rc = err_set(w->e, ERR_INVALID, "a POS row has a character GBK cannot hold");
            return;
        }
    }
    if (fwrite(out, 1, n, sink->f) != n) {
        w->rc = err_set(w->e, ERR_IO, "cannot write %s: %s", sink->path, strerror(errno));
        return;
    }
    sink->bytes += n;
    if (!key)
        return;
    sink->records++;
    /* ground_truth.csv: keys hold no comma, quote or line break (ids, messageIds). */
    FILE *f = w->truth.f;
    fputs(source_names[s], f);
    fputc(',', f);
    fputs(key, f);
    fputc(',', f);
    fputs(p->id, f);
    fputc('\n', f);
    w->truth.records++;
    struct demo_customer *c = &w->cust[p->idx];
    if (!(c->flags & DEMO_F_SEEN)) {
        c->flags |= DEMO_F_SEEN;
        w->persons++;
    }
}

/* ---- The heap of customers, ordered by the time of the next thing they do ------------- */

struct heap_entry {
    uint32_t key, idx;
};

struct heap {
    struct heap_entry *v;
    size_t n;
};

static bool heap_before(struct heap_entry a, struct heap_entry b)
{
    return a.key < b.key || (a.key == b.key && a.idx < b.idx);
}

static void heap_down(struct heap *h, size_t i)
{
    struct heap_entry x = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && heap_before(h->v[c + 1], h->v[c]))
            c++;
        if (!heap_before(h->v[c], x))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    h->v[i] = x;
}

static void heap_push(struct heap *h, struct heap_entry x)
{
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_before(x, h->v[parent]))
            break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = x;
}

static uint32_t next_key(const struct demo_customer *c)
{
    return c->next_visit < c->next_follow ? c->next_visit : c->next_follow;
}

/* ---- A customer's life ---------------------------------------------------------------- */

/* Weights of the channels of visit number `visit`: one-time buyers only browse after
 * their one purchase. */
static void visit_channels(const struct demo_person *p, uint32_t visit, float *wt)
{
    memcpy(wt, p->channel, sizeof(p->channel));
    if (p->archetype == ARCH_ONE_TIME && visit > 0)
        wt[CH_POS] = wt[CH_MARKET] = 0;
}

static bool visits_left(const struct demo_person *p, uint32_t visits)
{
    if (p->archetype == ARCH_ONE_TIME || p->archetype == ARCH_BROWSER)
        return visits < 1u + p->extra;
    return true;
}

/* Schedules visit number c->visits on day from_day or later: each day is a candidate
 * with probability rate * wmax, and a candidate becomes a visit on the channel drawn
 * with probability (that day's intensity for the channel) / wmax. No libm: the same
 * numbers on every machine. */
static void schedule_visit(struct demo_world *w, struct demo_customer *c,
                           const struct demo_person *p, struct demo_rng *r, int from_day)
{
    c->next_visit = UINT32_MAX;
    if (!visits_left(p, c->visits))
        return;
    float wt[CH_COUNT];
    visit_channels(p, c->visits, wt);
    double candidate = (double)p->rate * w->wmax;
    for (int day = from_day; day < p->end_day; day++) {
        if (demo_rng_unit(r) >= candidate)
            continue;
        const struct demo_day *d = &w->days[day];
        size_t ch = demo_rng_weighted(r, wt, CH_COUNT);
        float intensity = ch == CH_POS ? d->pos : d->online;
        if (demo_rng_unit(r) * w->wmax < intensity) {
            c->channel = (uint8_t)ch;
            c->next_visit = (uint32_t)day * 86400 + demo_pick_second(r, ch, d);
            return;
        }
    }
}

/* The first visit: on the day a new customer joins; for an existing customer, when
 * the process first brings them, or some day before they leave if it does not. */
static void schedule_first(struct demo_world *w, struct demo_customer *c,
                           const struct demo_person *p)
{
    struct demo_rng r;
    demo_rng_seed(&r, demo_hash(w->seed, p->idx, TAG_FIRST, 0));
    c->next_follow = UINT32_MAX;
    if (p->pre_existing) {
        schedule_visit(w, c, p, &r, 0);
        if (c->next_visit != UINT32_MAX)
            return;
    }
    int day = p->pre_existing ? (int)demo_rng_below(&r, p->end_day) : p->join_day;
    float wt[CH_COUNT];
    visit_channels(p, 0, wt);
    c->channel = (uint8_t)demo_rng_weighted(&r, wt, CH_COUNT);
    c->next_visit = (uint32_t)day * 86400 + demo_pick_second(&r, c->channel, &w->days[day]);
}

static void do_visit(struct demo_world *w, struct demo_customer *c, const struct demo_person *p)
{
    struct demo_rng r;
    demo_rng_seed(&r, demo_hash(w->seed, p->idx, TAG_VISIT, c->visits));
    struct demo_visit v = {.w = w, .c = c, .p = p, .r = &r, .t = c->next_visit};
    v.day = &w->days[v.t / 86400];
    v.registered = p->has_account && c->visits >= p->reg_visit;
    if (v.registered && !(c->flags & DEMO_F_REGISTERED)) {
        demo_crm_contact(&v, false);
        c->flags |= DEMO_F_REGISTERED;
    } else if (v.registered && p->crm_dup && !(c->flags & DEMO_F_DUPLICATED) &&
               demo_rng_chance(&r, 0.35)) {
        demo_crm_contact(&v, true);
        c->flags |= DEMO_F_DUPLICATED;
        w->crm_duplicates++;
    }
    enum demo_channel ch = (enum demo_channel)c->channel;
    double buy = p->buy[ch] * (v.day->promo != PROMO_NONE ? 1.4 : 1.0);
    v.buy =
        p->archetype == ARCH_ONE_TIME ? c->visits == 0 : demo_rng_chance(&r, buy > 0.9 ? 0.9 : buy);
    switch (ch) {
    case CH_POS:
        demo_visit_pos(&v);
        break;
    case CH_MARKET:
        demo_visit_market(&v);
        break;
    default:
        demo_visit_online(&v, ch);
    }
    /* Now and then a question that is about no order: points, login, the store. */
    if (c->follow_kind == FOLLOW_NONE && demo_rng_chance(&r, 0.006)) {
        uint32_t when = v.t + (uint32_t)demo_rng_range(&r, 1, 48) * 3600;
        if (when < DEMO_END_SECONDS) {
            c->follow_kind = FOLLOW_TICKET;
            c->follow_where = WHERE_NONE;
            c->follow_sku = (uint8_t)demo_pick_product(&r, p->fav, v.day);
            c->next_follow = when;
        }
    }
    c->visits++;
    schedule_visit(w, c, p, &r, (int)(v.t / 86400) + 1);
}

static void do_follow(struct demo_world *w, struct demo_customer *c, const struct demo_person *p)
{
    struct demo_rng r;
    demo_rng_seed(&r, demo_hash(w->seed, p->idx, TAG_FOLLOW, c->next_follow));
    struct demo_visit v = {.w = w, .c = c, .p = p, .r = &r, .t = c->next_follow};
    v.day = &w->days[v.t / 86400];
    v.registered = p->has_account && c->visits > p->reg_visit;
    demo_follow_up(&v);
    c->follow_kind = FOLLOW_NONE;
    c->next_follow = UINT32_MAX;
}

static void progress(const struct demo_world *w, uint32_t t, bool done)
{
    static const char *const spin = "|/-\\";
    int day = (int)(t / 86400);
    if (done) {
        fprintf(stderr, "\rcustos demo: 2025-12-31 100%%  %" PRIu64 " persons\n", w->persons);
        return;
    }
    const struct demo_day *d = &w->days[day < DEMO_DAYS ? day : DEMO_DAYS - 1];
    fprintf(stderr, "\rcustos demo: %04u-%02u-%02u %3d%% %c", d->year, d->month, d->mday,
            day * 100 / DEMO_DAYS, spin[day % 4]);
}

static int simulate(struct demo_world *w, bool show)
{
    struct heap h = {calloc(w->customers, sizeof(struct heap_entry)), 0};
    if (!h.v)
        return err_set(w->e, ERR_NOMEM, "out of memory for %" PRIu32 " customers", w->customers);
    struct demo_person p;
    if (show)
        fprintf(stderr, "custos demo: making %" PRIu32 " customers\n", w->customers);
    for (uint32_t i = 0; i < w->customers; i++) {
        demo_person_make(w, i, &p);
        w->archetypes[p.archetype]++;
        w->family_pairs += p.family != DEMO_NO_FAMILY;
        schedule_first(w, &w->cust[i], &p);
        heap_push(&h, (struct heap_entry){next_key(&w->cust[i]), i});
    }
    int shown = -1;
    while (h.n && !w->rc) {
        uint32_t idx = h.v[0].idx;
        struct demo_customer *c = &w->cust[idx];
        demo_person_make(w, idx, &p);
        if (show && (int)(h.v[0].key / 86400 / 7) != shown) {
            shown = (int)(h.v[0].key / 86400 / 7);
            progress(w, h.v[0].key, false);
        }
        if (c->next_follow <= c->next_visit)
            do_follow(w, c, &p);
        else
            do_visit(w, c, &p);
        uint32_t key = next_key(c);
        if (key == UINT32_MAX)
            h.v[0] = h.v[--h.n];
        else
            h.v[0] = (struct heap_entry){key, idx};
        if (h.n)
            heap_down(&h, 0);
    }
    if (show && !w->rc)
        progress(w, 0, true);
    free(h.v);
    return w->rc;
}

/* ---- README ---------------------------------------------------------------------------- */

static int write_readme(const struct demo_world *w, const char *dir, struct err *e)
{
    struct demo_sink s = {0};
    int rc = sink_open(&s, dir, "README.md", e);
    if (rc)
        return sink_close(&s, rc, e);
    FILE *f = s.f;
    size_t ncities = 0;
    for (size_t i = 0; i < demo_nstores; i++)
        ncities += i == 0 || demo_stores[i].city != demo_stores[i - 1].city;
    fprintf(
        f,
        "# Custos demo world\n\n"
        "Written by `custos demo --customers %" PRIu32 " --seed %" PRIu64 "`. The same\n"
        "command writes the same bytes on every machine.\n\n"
        "Two years (2024-01-01 to 2025-12-31, China time, +08:00) of 悦选 (Yuexuan), an\n"
        "omnichannel retailer: %zu stores in %zu cities, a Tmall and a JD shop, a web shop, an\n"
        "app and a WeChat mini-program. 6.18 (1 to 18 June) and Double 11 (20 October to\n"
        "11 November) are the peaks, with the midnight rush on 18 June and 11 November;\n"
        "12.12, Women's Day, the New Year shopping festival and the golden weeks show too,\n"
        "and the days around Chinese New Year are quiet.\n\n"
        "%" PRIu32 " customers: %" PRIu64 " loyal repeat buyers, %" PRIu64 " regular, %" PRIu64
        " who churn (stop\n"
        "coming after a few weeks to a year), %" PRIu64 " one-time buyers, %" PRIu64
        " who only browse.\n"
        "%" PRIu64 " pairs of customers share a phone (a family phone); %" PRIu64
        " CRM contacts are\n"
        "duplicates a second clerk entered.\n\n",
        w->customers, w->seed, demo_nstores, ncities, w->customers, w->archetypes[0],
        w->archetypes[1], w->archetypes[2], w->archetypes[3], w->archetypes[4], w->family_pairs,
        w->crm_duplicates);
    fputs("## Files\n\n"
          "| file | source | records | what it is |\n"
          "| --- | --- | ---: | --- |\n",
          f);
    static const char *const what[DEMO_SOURCE_COUNT] = {
        "store tills: one row per line item, **GBK**, CRLF, Chinese headers; times "
        "`YYYY/MM/DD HH:MM:SS` (+08:00); member card on most receipts, a phone on some "
        "(and the placeholder 13800000000 now and then); some stores print `￥` before the "
        "amount",
        "CRM contacts: UTF-8 **with a BOM**, CRLF; messy phones (`+86 138 0013 8000`, "
        "`0086-…`, `(+86)…`, `138-0013-8000`, full-width digits, a digit short or long, "
        "junk numbers) and e-mails (upper case, spaces around, `null`, `test@test.com`, "
        "empty); birthdays in three formats; duplicates with another contact_id",
        "Tmall and JD orders, one row per order, Chinese headers; `买家昵称` is the "
        "platform's nickname; the receiver phone is the buyer's (sometimes masked "
        "`138****8000`, sometimes a gift to someone else)",
        "service desk tickets: phone and/or e-mail; bodies in Chinese and English with "
        "quoted commas, quotes and line breaks; times ISO 8601 with +08:00",
        "reviews: a marketplace nickname (Tmall/JD) or a member card (store, own shop); "
        "rating 1-5; Chinese and English text",
        "web shop, Segment messages (analytics.js): page, track, identify",
        "app, Segment messages (analytics-ios/-android): screen, track, identify; "
        "`context.device.id`",
        "WeChat mini-program, Segment messages: page, track, identify; WeChat ids in "
        "`context.traits`",
    };
    for (int i = 0; i < DEMO_SOURCE_COUNT; i++)
        fprintf(f, "| `%s` | `%s` | %" PRIu64 " | %s |\n", source_files[i], source_names[i],
                w->sink[i].records, what[i]);
    fprintf(f,
            "| `ground_truth.csv` | | %" PRIu64 " | `source,record_key,person_id` for every "
            "record above |\n\n",
            w->truth.records);
    fputs("Each data file has a mapping file beside it (`pos_receipts.mapping.json`, ...,\n"
          "`web_events.mapping.json`) in the format of docs/import.md.\n\n"
          "## Importing\n\n"
          "```sh\n"
          "for s in pos crm marketplace service reviews web app miniprogram; do\n"
          "    custos sources add $s > $s.key\n"
          "done\n"
          "custos import --source pos --mapping pos_receipts.mapping.json pos_receipts.csv\n"
          "custos import --source crm --mapping crm_contacts.mapping.json crm_contacts.csv\n"
          "custos import --source marketplace --mapping marketplace_orders.mapping.json "
          "marketplace_orders.csv\n"
          "custos import --source service --mapping service_tickets.mapping.json "
          "service_tickets.csv\n"
          "custos import --source reviews --mapping reviews.mapping.json reviews.csv\n"
          "custos import --source web --mapping web_events.mapping.json web_events.jsonl\n"
          "custos import --source app --mapping app_events.mapping.json app_events.jsonl\n"
          "custos import --source miniprogram --mapping miniprogram_events.mapping.json "
          "miniprogram_events.jsonl\n"
          "```\n\n"
          "## Identifiers: which file carries what\n\n"
          "| identifier | where |\n"
          "| --- | --- |\n"
          "| phone | POS `手机号`, CRM `mobile`, marketplace `收货人手机`, tickets `phone`, "
          "`traits.phone` of identify (web and mini-program: 11 digits; app: `+86…`) |\n"
          "| email | CRM `email`, tickets `email`, `traits.email` of identify |\n"
          "| member_card | POS `会员卡号`, CRM `member_card`, reviews `member_card`, "
          "`traits.member_card` of identify |\n"
          "| crm_id | CRM `contact_id` (one per contact: duplicates have their own) |\n"
          "| marketplace_buyer | marketplace `买家昵称`, reviews `buyer_nick` (Tmall nicknames "
          "and JD nicknames, which start with `jd_`, never collide) |\n"
          "| user_id | `userId` of web, app and mini-program messages once the person logs in "
          "(the account, `U` and 8 digits) |\n"
          "| anonymous_id | `anonymousId` of every message: a web cookie (renewed every few "
          "visits), an app install, a mini-program install |\n"
          "| device_id | `context.device.id` of app messages (iOS: an upper-case UUID; Android: "
          "16 hex digits) |\n"
          "| wechat_openid, wechat_unionid | mini-program messages: "
          "`context.traits.wechat_openid` and `context.traits.wechat_unionid` on every "
          "message, and `traits.wechat_openid` / `traits.wechat_unionid` on identify; not "
          "everyone has a unionid |\n\n"
          "Most sessions start anonymous; a person who logs in sends identify with `userId`\n"
          "and traits, and every later message of the session carries the `userId` (a\n"
          "returning person still logged in carries it from the first message). Guests who\n"
          "order send identify with only the `anonymousId` and the phone (and e-mail on the\n"
          "web) they typed at checkout. A new account sends `Signed Up` and identify with\n"
          "`createdAt`. Campaign sessions carry `context.campaign` {source, medium, name} (and\n"
          "UTM parameters in the web page URL) on their landing message; names are\n"
          "`618_2024`, `double11_2025`, ... during promotions. E-commerce events follow the\n"
          "Segment spec: Product Viewed, Product Added, Checkout Started and Order Completed\n"
          "with `order_id`, `revenue`, `currency` (CNY) and `products[]`. Messages have no\n"
          "`sentAt`, so their `timestamp` is kept as written.\n\n"
          "## Traps, on purpose\n\n"
          "- Junk values typed by clerks: phones 13800000000, 13800138000 and 13888888888;\n"
          "  e-mails `null` and `test@test.com`. They belong to nobody and must not merge\n"
          "  people.\n"
          "- Family phones: two people (two person_ids) with one phone number.\n"
          "- Gifts: a marketplace order shipped to another customer's phone belongs to the\n"
          "  buyer.\n"
          "- CRM duplicates: the same person with another contact_id, a mistyped name\n"
          "  (a homophone, a space, a missing character, `王女士`), another phone format, no\n"
          "  e-mail, and sometimes no member card.\n"
          "- Receipts with neither card nor phone, and anonymous sessions that never log in,\n"
          "  belong to people (the ground truth says who) but carry nothing to link them by.\n\n"
          "## Ground truth\n\n"
          "`ground_truth.csv` has one row per record of every file: `source` (the names\n"
          "above), `record_key` (what each mapping's record_key gives: the key column, or\n"
          "the key columns joined by `|` such as `SH01202406180012|2`; the `messageId` for\n"
          "events) and `person_id` (`P` and 8 digits). Use it to score identity resolution.\n",
          f);
    return sink_close(&s, 0, e);
}

/* ---- Generation ---------------------------------------------------------------------- */

static void world_free(struct demo_world *w)
{
    if (!w)
        return;
    for (int i = 0; i < DEMO_SOURCE_COUNT; i++)
        sink_close(&w->sink[i], 0, NULL);
    sink_close(&w->truth, 0, NULL);
    if (w->gbk != (iconv_t)-1)
        iconv_close(w->gbk);
    free(w->cust);
    free(w);
}

int demo_generate(const struct demo_options *o, struct demo_stats *st, struct err *e)
{
    memset(st, 0, sizeof(*st));
    if (o->customers < 1 || o->customers > DEMO_MAX_CUSTOMERS)
        return err_set(e, ERR_INVALID, "customers must be between 1 and %d", DEMO_MAX_CUSTOMERS);
    if (!o->dir)
        return err_set(e, ERR_INVALID, "no output directory");
    struct demo_world *w = calloc(1, sizeof(*w));
    if (!w)
        return err_set(e, ERR_NOMEM, "out of memory");
    w->gbk = (iconv_t)-1;
    w->seed = o->seed;
    w->customers = o->customers;
    w->e = e;
    for (w->perm_mod = 100000; w->perm_mod < (uint64_t)o->customers * 10; w->perm_mod *= 10)
        ;
    w->wmax = demo_days_init(w->days);
    int rc = make_dirs(o->dir, e);
    if (rc)
        goto out;
    w->cust = calloc(o->customers, sizeof(*w->cust));
    w->gbk = iconv_open("GBK", "UTF-8");
    if (!w->cust || w->gbk == (iconv_t)-1) {
        rc = err_set(e, w->cust ? ERR_INVALID : ERR_NOMEM,
                     w->cust ? "iconv cannot convert UTF-8 to GBK" : "out of memory");
        goto out;
    }
    for (int i = 0; i < DEMO_SOURCE_COUNT && !rc; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%.*s.mapping.json",
                 (int)(strrchr(source_files[i], '.') - source_files[i]), source_files[i]);
        rc = write_file(o->dir, name, mappings[i], e);
        if (!rc)
            rc = sink_open(&w->sink[i], o->dir, source_files[i], e);
    }
    if (!rc)
        rc = sink_open(&w->truth, o->dir, "ground_truth.csv", e);
    if (rc)
        goto out;
    fputs("source,record_key,person_id\n", w->truth.f);
    demo_write_headers(w);
    rc = w->rc ? w->rc : simulate(w, o->progress);
    for (int i = 0; i < DEMO_SOURCE_COUNT; i++) {
        st->records[i] = w->sink[i].records;
        st->bytes[i] = w->sink[i].bytes;
        rc = sink_close(&w->sink[i], rc, e);
    }
    st->truth_rows = w->truth.records;
    st->persons = w->persons;
    rc = sink_close(&w->truth, rc, e);
    if (!rc)
        rc = write_readme(w, o->dir, e);
out:
    world_free(w);
    return rc;
}
