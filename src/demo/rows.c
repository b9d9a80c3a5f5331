/* rows.c - the CSV exports of the demo world: store receipts (one row per line item),
 * CRM contacts (and the duplicates a second clerk enters), Tmall and JD orders,
 * service tickets and reviews. Column names are the ones the mapping files of
 * demo.c name; keep both in step. */
#include "demo/demo.h"

/* Header rows, in file order; POS is converted to GBK like its rows. */
static const char *const headers[DEMO_SOURCE_COUNT] = {
    [DEMO_POS] = "小票号,行号,门店,交易时间,会员卡号,手机号,商品编码,商品名称,品类,数量,单价,金额,"
                 "收银员\r\n",
    [DEMO_CRM] = "contact_id,name,email,mobile,city,birthday,gender,member_card,created_at,"
                 "registered_via\r\n",
    [DEMO_MARKETPLACE] = "订单编号,买家昵称,收货人手机,实付金额,订单状态,下单时间,店铺,收货城市,"
                         "商品标题,购买数量\n",
    [DEMO_SERVICE] = "ticket_id,created_at,channel,phone,email,subject,body,status\n",
    [DEMO_REVIEWS] = "review_id,created_at,platform,buyer_nick,member_card,sku,rating,content\n",
};

void demo_write_headers(struct demo_world *w)
{
    for (int s = 0; s < DEMO_SOURCE_COUNT; s++) {
        if (!headers[s])
            continue;
        w->row.len = 0;
        w->row.overflow = false;
        if (s == DEMO_CRM)
            demo_buf_puts(&w->row, "\xef\xbb\xbf"); /* Excel's UTF-8 BOM */
        demo_buf_puts(&w->row, headers[s]);
        demo_emit(w, (enum demo_source)s, NULL, NULL);
    }
}

static void row_start(struct demo_world *w)
{
    w->row.len = 0;
    w->row.overflow = false;
    w->row.p[0] = '\0';
}

/* Appends a field and the comma after it. */
static void field(struct demo_world *w, const char *s)
{
    demo_buf_csv(&w->row, s);
    demo_buf_put(&w->row, ",", 1);
}

/* Appends the last field and the line end. */
static void last_field(struct demo_world *w, const char *s, const char *eol)
{
    demo_buf_csv(&w->row, s);
    demo_buf_puts(&w->row, eol);
}

static void money_text(int64_t fen, const char *sign, char out[32])
{
    snprintf(out, 32, "%s%" PRId64 ".%02" PRId64, sign, fen / 100, fen % 100);
}

void demo_order_id(uint64_t seed, enum demo_order_where where, uint64_t seq, char out[32])
{
    /* Unique because the first part is a bijection of seq (< 10^9). */
    uint64_t a = demo_perm(seed, 301 + (uint64_t)where, seq, 1000000000);
    uint64_t b = demo_hash(seed, where, seq, 0);
    switch (where) {
    case WHERE_TMALL: /* 19 digits */
        snprintf(out, 32, "2%09" PRIu64 "%09" PRIu64, a, b % 1000000000);
        break;
    case WHERE_JD: /* 12 digits */
        snprintf(out, 32, "28%" PRIu64 "%09" PRIu64, b % 10, a);
        break;
    default:
        snprintf(out, 32, "SO%" PRIu64 "%09" PRIu64, 1 + b % 9, a);
    }
}

void demo_visit_pos(struct demo_visit *v)
{
    struct demo_world *w = v->w;
    const struct demo_person *p = v->p;
    struct demo_rng *r = v->r;
    size_t store = p->store;
    double x = demo_rng_unit(r);
    if (x < 0.05 || store == DEMO_NO_STORE) {
        store = demo_rng_below(r, (uint32_t)demo_nstores); /* travelling */
    } else if (x < 0.15) {
        for (size_t i = 0; i < demo_nstores; i++)
            if (demo_stores[i].city == p->city && i != p->store && demo_rng_chance(r, 0.6))
                store = i;
    }
    const struct demo_store *st = &demo_stores[store];
    uint32_t day = v->t / 86400;
    if (w->store_day[store] != day + 1) {
        w->store_day[store] = day + 1;
        w->store_seq[store] = 0;
    }
    uint32_t seq = ++w->store_seq[store];
    char receipt[32], when[32], store_name[64], cashier[16];
    snprintf(receipt, sizeof(receipt), "%s%04d%02d%02d%04" PRIu32, st->code, v->day->year,
             v->day->month, v->day->mday, seq);
    demo_time_local(v->t, '/', when);
    snprintf(store_name, sizeof(store_name), "%s %s", st->code, st->name);
    snprintf(cashier, sizeof(cashier), "%s-%02u", st->code, 1 + demo_rng_below(r, 12));

    /* Who the receipt names: the member card when shown, a phone now and then, and
     * the clerk's placeholder number when the customer gave none. */
    bool card = v->registered && p->is_member && demo_rng_chance(r, 0.9);
    const char *phone = "";
    if (card ? demo_rng_chance(r, 0.12) : demo_rng_chance(r, v->registered ? 0.35 : 0.22))
        phone = p->phone;
    else if (!card && demo_rng_chance(r, 0.05))
        phone = demo_junk_phones[demo_rng_below(r, (uint32_t)demo_njunk_phones)];

    static const float lines_w[] = {0, 35, 25, 17, 10, 7, 3, 2, 1};
    int lines = (int)demo_rng_weighted(r, lines_w, ARRAY_SIZE(lines_w));
    static const float qty_w[] = {0, 75, 18, 4, 2, 1};
    size_t first = 0;
    for (int i = 1; i <= lines; i++) {
        size_t pi = demo_pick_product(r, p->fav, v->day);
        if (i == 1)
            first = pi;
        const struct demo_product *pr = &demo_products[pi];
        int qty = (int)demo_rng_weighted(r, qty_w, ARRAY_SIZE(qty_w));
        int64_t unit = demo_promo_price(v->day, pr->price);
        if (card)
            unit = unit * 95 / 100 / 10 * 10; /* member price */
        char line[16], qty_s[16], unit_s[32], amount_s[32], key[48];
        snprintf(line, sizeof(line), "%d", i);
        snprintf(qty_s, sizeof(qty_s), "%d", qty);
        money_text(unit, "", unit_s);
        money_text(unit * qty, st->yuan_sign ? "￥" : "", amount_s);
        row_start(w);
        field(w, receipt);
        field(w, line);
        field(w, store_name);
        field(w, when);
        field(w, card ? p->card : "");
        field(w, phone);
        field(w, pr->sku);
        field(w, pr->name);
        field(w, demo_category_names[pr->category]);
        field(w, qty_s);
        field(w, unit_s);
        field(w, amount_s);
        last_field(w, cashier, "\r\n");
        snprintf(key, sizeof(key), "%s|%d", receipt, i);
        demo_emit(w, DEMO_POS, key, p);
    }
    if (card)
        demo_schedule_follow(v, WHERE_STORE, 0, first, false);
}

/* Where a registration happened, as the CRM records it. */
static void registered_via(const struct demo_visit *v, char out[64])
{
    const struct demo_person *p = v->p;
    switch (v->c->channel) {
    case CH_POS: {
        const struct demo_store *st = &demo_stores[p->store == DEMO_NO_STORE ? 0 : p->store];
        snprintf(out, 64, "%s %s", st->code, st->name);
        break;
    }
    case CH_MARKET:
        snprintf(out, 64, "%s", p->market ? "京东会员" : "天猫会员通");
        break;
    case CH_WEB:
        snprintf(out, 64, "%s", "官网");
        break;
    case CH_APP:
        snprintf(out, 64, "%s", "App");
        break;
    default:
        snprintf(out, 64, "%s", "微信小程序");
    }
}

void demo_crm_contact(struct demo_visit *v, bool duplicate)
{
    struct demo_world *w = v->w;
    const struct demo_person *p = v->p;
    struct demo_rng *r = v->r;
    char id[16], name[DEMO_NAME_MAX + 16], email[DEMO_ID_MAX + 8], mobile[64], city[32],
        birthday[16], created[32], via[64];
    snprintf(id, sizeof(id), "C%08" PRIu64, ++w->contact_seq);
    if (duplicate && demo_rng_chance(r, 0.6))
        demo_name_variant(r, p->name, p->gender, name, sizeof(name));
    else
        snprintf(name, sizeof(name), "%s", p->name);
    if (duplicate && demo_rng_chance(r, 0.5))
        email[0] = '\0';
    else
        demo_email_messy(r, p->email, email, sizeof(email));
    if (duplicate)
        demo_phone_style(p->phone, demo_rng_range(r, 0, 8), mobile, sizeof(mobile));
    else
        demo_phone_messy(r, p->phone, mobile, sizeof(mobile));
    double x = demo_rng_unit(r);
    snprintf(city, sizeof(city), "%s%s", x < 0.05 ? "" : demo_cities[p->city].name,
             x >= 0.05 && x < 0.25 ? "市" : "");
    x = demo_rng_unit(r);
    if (x < 0.75)
        snprintf(birthday, sizeof(birthday), "%04u-%02u-%02u", p->birth_year, p->birth_month,
                 p->birth_day);
    else if (x < 0.85)
        snprintf(birthday, sizeof(birthday), "%04u/%u/%u", p->birth_year, p->birth_month,
                 p->birth_day);
    else if (x < 0.9)
        snprintf(birthday, sizeof(birthday), "%04u%02u%02u", p->birth_year, p->birth_month,
                 p->birth_day);
    else
        birthday[0] = '\0';
    x = demo_rng_unit(r);
    const char *gender = x < 0.8    ? (p->gender ? "男" : "女")
                         : x < 0.88 ? (p->gender ? "M" : "F")
                                    : "";
    const char *card = p->is_member && (!duplicate || demo_rng_chance(r, 0.4)) ? p->card : "";
    demo_time_local(!duplicate && p->pre_existing ? p->crm_created : (int64_t)v->t, '-', created);
    if (duplicate)
        snprintf(via, sizeof(via), "%s", demo_rng_chance(r, 0.5) ? "客服录入" : "门店补录");
    else if (p->pre_existing)
        snprintf(via, sizeof(via), "%s", "历史数据迁移");
    else
        registered_via(v, via);
    row_start(w);
    field(w, id);
    field(w, name);
    field(w, email);
    field(w, mobile);
    field(w, city);
    field(w, birthday);
    field(w, gender);
    field(w, card);
    field(w, created);
    last_field(w, via, "\r\n");
    demo_emit(w, DEMO_CRM, id, p);
}

void demo_visit_market(struct demo_visit *v)
{
    struct demo_world *w = v->w;
    const struct demo_person *p = v->p;
    struct demo_rng *r = v->r;
    bool jd = demo_rng_chance(r, 0.1) ? !p->market : p->market;
    enum demo_order_where where = jd ? WHERE_JD : WHERE_TMALL;
    uint64_t seq = jd ? ++w->jd_seq : ++w->tmall_seq;
    char id[32], when[32], amount[32], qty_s[16], title[160], phone[64], city[32];
    demo_order_id(w->seed, where, seq, id);
    demo_time_local(v->t, '-', when);
    int items = demo_rng_chance(r, 0.7) ? 1 : demo_rng_range(r, 2, 3), qty = 0;
    int64_t total = 0;
    size_t first = 0;
    for (int i = 0; i < items; i++) {
        size_t pi = demo_pick_product(r, p->fav, v->day);
        int q = demo_rng_chance(r, 0.85) ? 1 : 2;
        if (i == 0)
            first = pi;
        qty += q;
        total += demo_promo_price(v->day, demo_products[pi].price) * q;
    }
    if ((v->day->promo == PROMO_618 || v->day->promo == PROMO_1111) && total >= 30000)
        total -= total / 30000 * 4000; /* 满300减40 */
    money_text(total, "", amount);
    snprintf(qty_s, sizeof(qty_s), "%d", qty);
    if (items > 1)
        snprintf(title, sizeof(title), "%s 等%d件", demo_products[first].name, items);
    else
        snprintf(title, sizeof(title), "%s", demo_products[first].name);

    /* The receiver's phone: the buyer's, masked by the platform now and then, in
     * another format, or someone else's (a gift). */
    double x = demo_rng_unit(r);
    if (x < 0.06) {
        snprintf(phone, sizeof(phone), "%.3s****%.4s", p->phone, p->phone + 7);
    } else if (x < 0.08) {
        char other[16];
        demo_phone_of(w, demo_rng_below(r, w->customers), other);
        snprintf(phone, sizeof(phone), "%s", other);
    } else if (x < 0.12) {
        demo_phone_style(p->phone, jd ? 8 : 5, phone, sizeof(phone));
    } else {
        snprintf(phone, sizeof(phone), "%s", p->phone);
    }
    int c = demo_rng_chance(r, 0.05) ? (int)demo_rng_below(r, (uint32_t)demo_ncities) : p->city;
    snprintf(city, sizeof(city), "%s市", demo_cities[c].name);

    const char *status;
    bool refunded = false;
    uint32_t left = DEMO_END_SECONDS - v->t;
    x = demo_rng_unit(r);
    if (left < 2 * 86400) {
        status = x < 0.3 ? "等待卖家发货" : "卖家已发货";
    } else if (left < 7 * 86400) {
        status = x < 0.5 ? "卖家已发货" : "交易成功";
    } else if (x < 0.055) {
        status = "已退款";
        refunded = true;
    } else if (x < 0.09) {
        status = "交易关闭";
    } else {
        status = "交易成功";
    }

    row_start(w);
    field(w, id);
    field(w, jd ? p->jd_nick : p->tmall_nick);
    field(w, phone);
    field(w, amount);
    field(w, status);
    field(w, when);
    field(w, jd ? "悦选京东自营旗舰店" : "悦选官方旗舰店");
    field(w, city);
    field(w, title);
    last_field(w, qty_s, "\n");
    demo_emit(w, DEMO_MARKETPLACE, id, p);
    if (strcmp(status, "交易关闭") != 0)
        demo_schedule_follow(v, where, seq, first, refunded);
}

void demo_schedule_follow(struct demo_visit *v, enum demo_order_where where, uint64_t order_seq,
                          size_t product, bool refunded)
{
    struct demo_customer *c = v->c;
    struct demo_rng *r = v->r;
    if (c->follow_kind != FOLLOW_NONE)
        return;
    double review, ticket;
    switch (where) {
    case WHERE_TMALL:
    case WHERE_JD:
        review = refunded ? 0.3 : 0.22;
        ticket = refunded ? 0.6 : 0.03;
        break;
    case WHERE_STORE:
        review = 0.04;
        ticket = 0.01;
        break;
    default: /* a review needs the member card, issued when they register */
        review = v->registered && v->p->is_member ? 0.08 : 0;
        ticket = 0.04;
    }
    int kind = FOLLOW_NONE;
    uint32_t delay = 0;
    double x = demo_rng_unit(r);
    if (x < ticket) {
        kind = refunded ? FOLLOW_TICKET_REFUND : FOLLOW_TICKET;
        delay = (uint32_t)demo_rng_range(r, 1, 5 * 24) * 3600;
    } else if (x < ticket + review) {
        kind = refunded ? FOLLOW_REVIEW_BAD : FOLLOW_REVIEW;
        delay = (uint32_t)demo_rng_range(r, 2 * 24, 12 * 24) * 3600;
    }
    uint32_t when = v->t + delay + demo_rng_below(r, 3600);
    if (kind == FOLLOW_NONE || when >= DEMO_END_SECONDS)
        return;
    c->follow_kind = (uint8_t)kind;
    c->next_follow = when;
    c->follow_order = (uint32_t)order_seq;
    c->follow_sku = (uint8_t)product;
    c->follow_where = (uint8_t)where;
}

static void write_review(struct demo_visit *v)
{
    struct demo_world *w = v->w;
    const struct demo_person *p = v->p;
    struct demo_rng *r = v->r;
    const struct demo_customer *c = v->c;
    const struct demo_product *pr = &demo_products[c->follow_sku];
    static const float good_w[] = {0, 2, 3, 8, 25, 62};
    static const float bad_w[] = {0, 55, 30, 15, 0, 0};
    int rating = (int)demo_rng_weighted(r, c->follow_kind == FOLLOW_REVIEW_BAD ? bad_w : good_w, 6);
    bool english = demo_rng_chance(r, (unsigned char)p->name[0] < 0x80 ? 0.6 : 0.08);
    char id[16], when[32], rating_s[4];
    snprintf(id, sizeof(id), "RV%09" PRIu64, ++w->review_seq);
    demo_time_local(v->t, '-', when);
    snprintf(rating_s, sizeof(rating_s), "%d", rating);
    const char *platform = c->follow_where == WHERE_TMALL   ? "天猫"
                           : c->follow_where == WHERE_JD    ? "京东"
                           : c->follow_where == WHERE_STORE ? "门店"
                                                            : "悦选商城";
    const char *nick = c->follow_where == WHERE_TMALL ? p->tmall_nick
                       : c->follow_where == WHERE_JD  ? p->jd_nick
                                                      : "";
    struct demo_buf *text = &w->text;
    text->len = 0;
    text->overflow = false;
    text->p[0] = '\0';
    if (rating >= 4 && *nick && demo_rng_chance(r, 0.08))
        demo_buf_puts(text, "此用户没有填写评价。");
    else
        demo_fill(text, demo_review_text(r, rating, english), pr->name, NULL, NULL, NULL, NULL,
                  NULL);
    row_start(w);
    field(w, id);
    field(w, when);
    field(w, platform);
    field(w, nick);
    field(w, *nick ? "" : p->card);
    field(w, pr->sku);
    field(w, rating_s);
    last_field(w, text->p, "\n");
    demo_emit(w, DEMO_REVIEWS, id, p);
}

static void write_ticket(struct demo_visit *v)
{
    struct demo_world *w = v->w;
    const struct demo_person *p = v->p;
    struct demo_rng *r = v->r;
    const struct demo_customer *c = v->c;
    bool english = demo_rng_chance(r, (unsigned char)p->name[0] < 0x80 ? 0.6 : 0.1);
    bool has_order = c->follow_where != WHERE_NONE && c->follow_where != WHERE_STORE;
    bool card = p->is_member && (c->flags & DEMO_F_REGISTERED);
    const struct demo_ticket_text *tt = NULL;
    for (int tries = 0; tries < 8; tries++) {
        tt = demo_ticket_text(r, c->follow_kind == FOLLOW_TICKET_REFUND, english, has_order);
        if (card || !strstr(tt->body, "{c}"))
            break;
    }
    char id[16], when[32], order[32] = "", date[32], phone[64] = "", email[DEMO_ID_MAX + 8] = "";
    snprintf(id, sizeof(id), "TK%08" PRIu64, ++w->ticket_seq);
    demo_time_offset(v->t, when);
    if (has_order)
        demo_order_id(w->seed, (enum demo_order_where)c->follow_where, c->follow_order, order);
    demo_time_local(v->t > 3 * 86400 ? v->t - 3 * 86400 : 0, '-', date);
    date[10] = '\0';
    static const char *const channels[] = {"电话", "在线客服", "邮件", "微信"};
    static const float channel_w[] = {30, 35, 15, 20};
    size_t ch = demo_rng_weighted(r, channel_w, 4);
    if (english && demo_rng_chance(r, 0.6))
        ch = 2;
    if (ch == 2) { /* e-mail: the address, and a phone in the signature at times */
        snprintf(email, sizeof(email), "%s", p->email);
        if (demo_rng_chance(r, 0.15))
            email[0] = (char)(email[0] >= 'a' && email[0] <= 'z' ? email[0] - 'a' + 'A' : email[0]);
        if (demo_rng_chance(r, 0.3))
            demo_phone_style(p->phone, demo_rng_chance(r, 0.5) ? 0 : 1, phone, sizeof(phone));
    } else {
        static const float style_w[] = {70, 10, 0, 5, 10, 5};
        demo_phone_style(p->phone, (int)demo_rng_weighted(r, style_w, ARRAY_SIZE(style_w)), phone,
                         sizeof(phone));
        if (demo_rng_chance(r, 0.2))
            snprintf(email, sizeof(email), "%s", p->email);
    }
    struct demo_buf *body = &w->text;
    body->len = 0;
    body->overflow = false;
    body->p[0] = '\0';
    demo_fill(body, tt->body, demo_products[c->follow_sku].name, order, card ? p->card : NULL,
              p->name, date, p->phone);
    bool recent = DEMO_END_SECONDS - v->t < 7 * 86400;
    double x = demo_rng_unit(r);
    const char *status = recent     ? (x < 0.5 ? "处理中" : "待回复")
                         : english  ? (x < 0.8 ? "closed" : "solved")
                         : x < 0.75 ? "已解决"
                                    : "已关闭";
    row_start(w);
    field(w, id);
    field(w, when);
    field(w, channels[ch]);
    field(w, phone);
    field(w, email);
    field(w, tt->subject);
    field(w, body->p);
    last_field(w, status, "\n");
    demo_emit(w, DEMO_SERVICE, id, p);
}

void demo_follow_up(struct demo_visit *v)
{
    switch (v->c->follow_kind) {
    case FOLLOW_REVIEW:
    case FOLLOW_REVIEW_BAD:
        write_review(v);
        break;
    case FOLLOW_TICKET:
    case FOLLOW_TICKET_REFUND:
        write_ticket(v);
        break;
    default:
        break;
    }
}
