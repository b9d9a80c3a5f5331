/* events.c - the Segment messages of the web shop (analytics.js), the app
 * (analytics-ios / analytics-android) and the WeChat mini-program: sessions that
 * start anonymous, view products, sometimes log in (identify with userId and traits)
 * and order (the e-commerce spec's Product Viewed, Product Added, Checkout Started,
 * Order Completed), with campaign touchpoints in context.campaign.
 *
 * Messages carry no sentAt, so an importer keeps their timestamps as written. */
#include "core/timeutil.h"
#include "demo/demo.h"

enum { TAG_MESSAGE = 101, TAG_MESSAGE_LO, TAG_WEB_ANON, TAG_APP_ANON, TAG_MINI_ANON, TAG_DEVICE };

#define SESSION_MAX_VIEWS   6    /* products viewed in one session */
#define SESSION_MAX_CART    3    /* products ordered in one session */
#define SESSION_MAX_CONTEXT 1024 /* a message's context; the longest (app) is about 400 bytes */

struct campaign {
    const char *source, *medium, *evergreen, *referrer;
    float weight;
};

static const struct campaign web_campaigns[] = {
    {"baidu", "cpc", "brand_search", "https://www.baidu.com/", 30},
    {"wechat", "social", "wechat_article", "", 15},
    {"weibo", "social", "weibo_kol", "https://weibo.com/", 8},
    {"douyin", "video", "douyin_live", "https://www.douyin.com/", 12},
    {"xiaohongshu", "social", "xhs_notes", "https://www.xiaohongshu.com/", 12},
    {"email", "edm", "member_newsletter", "", 8},
    {"sms", "sms", "member_sms", "", 8},
    {"bing", "cpc", "brand_search", "https://cn.bing.com/", 3},
    {"zhihu", "social", "zhihu_answer", "https://www.zhihu.com/", 4},
};
static const struct campaign app_campaigns[] = {
    {"push", "app_push", "member_day", "", 70},
    {"sms", "sms", "member_sms", "", 30},
};
static const struct campaign mini_campaigns[] = {
    {"wechat", "share", "friend_share", "", 40},
    {"wechat", "moments_ad", "moments_ad", "", 25},
    {"wechat", "qrcode", "store_qrcode", "", 20},
    {"wechat", "official_account", "oa_menu", "", 15},
};

static const char *const user_agents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; V2309A) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0",
};

struct device_model {
    const char *manufacturer, *model, *os_version;
};
static const struct device_model ios_models[] = {
    {"Apple", "iPhone14,5", "17.4"}, {"Apple", "iPhone15,2", "17.5"},
    {"Apple", "iPhone16,1", "18.1"}, {"Apple", "iPhone13,2", "16.7"},
    {"Apple", "iPhone15,4", "18.0"},
};
static const struct device_model android_models[] = {
    {"HUAWEI", "ALN-AL00", "12"}, {"Xiaomi", "23127PN0CC", "14"}, {"OPPO", "PHB110", "14"},
    {"vivo", "V2309A", "14"},     {"HONOR", "PGT-AN10", "14"},    {"Xiaomi", "2210132C", "13"},
};

struct session {
    struct demo_visit *v;
    struct demo_world *w;
    const struct demo_person *p;
    struct demo_rng *r;
    enum demo_channel ch;
    enum demo_source src;
    uint64_t key; /* keys the messageIds of this world */
    uint32_t t, msg;
    const char *user_id; /* NULL until the person logs in */
    char anon[40], device[40], mid[40];
    const struct device_model *model;
    const char *ua;
    char app_version[16];
    const struct campaign *camp; /* this session's campaign, if it came from one */
    char camp_name[40];
    bool camp_pending; /* the landing message carries context.campaign */
    char url[160], referrer[160];
    char context[SESSION_MAX_CONTEXT];
    size_t context_len;
};

/* ---- Message framing ---------------------------------------------------------------- */

static struct demo_buf *begin(struct session *s, const char *type, const char *name_key,
                              const char *name)
{
    struct demo_buf *b = &s->w->row;
    b->len = 0;
    b->overflow = false;
    /* messageIds are unique: hi is a bijection of (customer, visit, message). */
    uint64_t packed =
        ((uint64_t)s->p->idx << 28) | ((uint64_t)s->v->c->visits << 12) | (s->msg & 0xfff);
    demo_uuid(demo_mix64(s->key ^ packed), demo_hash(s->w->seed, TAG_MESSAGE_LO, packed, s->p->idx),
              s->mid);
    s->msg++;
    char ts[32];
    time_format_iso8601(demo_time_ms(s->t) + demo_rng_below(s->r, 1000), ts);
    /* demo_buf_puts rather than printf: this runs for every message */
    demo_buf_puts(b, "{\"type\":\"");
    demo_buf_puts(b, type);
    if (name_key) {
        demo_buf_puts(b, "\",\"");
        demo_buf_puts(b, name_key);
        demo_buf_puts(b, "\":");
        demo_buf_json(b, name);
        demo_buf_puts(b, ",\"messageId\":\"");
    } else {
        demo_buf_puts(b, "\",\"messageId\":\"");
    }
    demo_buf_puts(b, s->mid);
    demo_buf_puts(b, "\",\"anonymousId\":\"");
    demo_buf_puts(b, s->anon);
    if (s->user_id) {
        demo_buf_puts(b, "\",\"userId\":\"");
        demo_buf_puts(b, s->user_id);
    }
    demo_buf_puts(b, "\",\"timestamp\":\"");
    demo_buf_puts(b, ts);
    demo_buf_puts(b, "\"");
    return b;
}

static void context_campaign(struct session *s, struct demo_buf *b)
{
    if (!s->camp_pending)
        return;
    s->camp_pending = false;
    demo_buf_printf(b, ",\"campaign\":{\"source\":\"%s\",\"medium\":\"%s\",\"name\":\"%s\"}",
                    s->camp->source, s->camp->medium, s->camp_name);
}

/* Closes the message with its context, writes it, and moves the session's clock on. */
static void end(struct session *s, struct demo_buf *b)
{
    demo_buf_puts(b, ",\"context\":{");
    demo_buf_put(b, s->context, s->context_len);
    context_campaign(s, b);
    demo_buf_puts(b, "}}\n");
    demo_emit(s->w, s->src, s->mid, s->p);
    uint32_t t = s->t + 4 + demo_rng_below(s->r, 80);
    s->t = t < DEMO_END_SECONDS ? t : DEMO_END_SECONDS - 1;
}

/* ---- Pieces of a session -------------------------------------------------------------- */

static void product_fields(struct demo_buf *b, const struct demo_day *day, size_t pi, int qty)
{
    const struct demo_product *pr = &demo_products[pi];
    demo_buf_puts(b, "\"product_id\":\"");
    demo_buf_puts(b, pr->sku);
    demo_buf_puts(b, "\",\"sku\":\"");
    demo_buf_puts(b, pr->sku);
    demo_buf_puts(b, "\",\"name\":");
    demo_buf_json(b, pr->name);
    demo_buf_puts(b, ",\"category\":\"");
    demo_buf_puts(b, demo_category_names[pr->category]);
    demo_buf_puts(b, "\",\"price\":");
    demo_buf_money(b, demo_promo_price(day, pr->price));
    if (qty) {
        demo_buf_puts(b, ",\"quantity\":");
        demo_buf_uint(b, (uint64_t)qty);
    }
}

/* A page (web, mini-program) or screen (app) view. */
static void view(struct session *s, const char *name, const char *web_path, const char *mini_path,
                 const char *title)
{
    struct demo_buf *b;
    if (s->ch == CH_APP) {
        b = begin(s, "screen", "name", name);
        demo_buf_puts(b, ",\"properties\":{}");
        end(s, b);
        return;
    }
    if (s->ch == CH_MINI) {
        b = begin(s, "page", "name", name);
        demo_buf_puts(b, ",\"properties\":{\"path\":");
        demo_buf_json(b, mini_path);
        if (s->msg == 1) { /* how the mini-program was opened */
            static const int scenes[] = {1001, 1007, 1011, 1089, 1037, 1047, 1095};
            int scene = scenes[demo_rng_below(s->r, ARRAY_SIZE(scenes))];
            if (s->camp)
                scene = strcmp(s->camp->medium, "share") == 0        ? 1007
                        : strcmp(s->camp->medium, "qrcode") == 0     ? 1011
                        : strcmp(s->camp->medium, "moments_ad") == 0 ? 1045
                                                                     : 1035;
            demo_buf_printf(b, ",\"scene\":%d", scene);
        }
        demo_buf_puts(b, "}");
        end(s, b);
        return;
    }
    snprintf(s->referrer, sizeof(s->referrer), "%s", s->url);
    snprintf(s->url, sizeof(s->url), "https://www.yuexuan.example%s", web_path);
    if (s->camp_pending) {
        snprintf(s->referrer, sizeof(s->referrer), "%s", s->camp->referrer);
        char *q = s->url + strlen(s->url);
        snprintf(q, sizeof(s->url) - (size_t)(q - s->url),
                 "?utm_source=%s&utm_medium=%s&utm_campaign=%s", s->camp->source, s->camp->medium,
                 s->camp_name);
    }
    b = begin(s, "page", "name", name);
    demo_buf_puts(b, ",\"properties\":{\"path\":");
    demo_buf_json(b, web_path);
    demo_buf_puts(b, ",\"url\":");
    demo_buf_json(b, s->url);
    demo_buf_puts(b, ",\"title\":");
    demo_buf_json(b, title);
    demo_buf_puts(b, ",\"referrer\":");
    demo_buf_json(b, s->referrer);
    demo_buf_puts(b, "}");
    end(s, b);
}

static void view_product(struct session *s, size_t pi)
{
    const struct demo_product *pr = &demo_products[pi];
    char path[64], mini[80], title[160];
    snprintf(path, sizeof(path), "/item/%s", pr->sku);
    snprintf(mini, sizeof(mini), "pages/goods/detail?sku=%s", pr->sku);
    snprintf(title, sizeof(title), "%s - 悦选", pr->name);
    view(s, "商品详情", path, mini, title);
    struct demo_buf *b = begin(s, "track", "event", "Product Viewed");
    demo_buf_puts(b, ",\"properties\":{");
    product_fields(b, s->v->day, pi, 0);
    demo_buf_puts(b, ",\"currency\":\"CNY\"}");
    end(s, b);
}

static void add_product(struct session *s, size_t pi, int qty)
{
    struct demo_buf *b = begin(s, "track", "event", "Product Added");
    demo_buf_puts(b, ",\"properties\":{");
    product_fields(b, s->v->day, pi, qty);
    demo_buf_puts(b, ",\"currency\":\"CNY\"}");
    end(s, b);
}

/* identify: with the account's userId when registered, else (a guest checkout) with
 * the anonymousId and what the form asked for. */
static void identify(struct session *s, bool signup)
{
    const struct demo_person *p = s->p;
    struct demo_rng *r = s->r;
    if (s->v->registered)
        s->user_id = p->user_id;
    struct demo_buf *b = begin(s, "identify", NULL, NULL);
    demo_buf_puts(b, ",\"traits\":{");
    char phone[32];
    demo_phone_style(p->phone, s->ch == CH_APP ? 5 : 0, phone, sizeof(phone));
    demo_buf_printf(b, "\"phone\":\"%s\"", phone);
    if (s->ch == CH_WEB || (s->ch == CH_APP && demo_rng_chance(r, 0.5)) || signup)
        demo_buf_printf(b, ",\"email\":\"%s\"", p->email);
    if (s->ch == CH_MINI) {
        demo_buf_printf(b, ",\"wechat_openid\":\"%s\"", p->openid);
        if (p->has_unionid)
            demo_buf_printf(b, ",\"wechat_unionid\":\"%s\"", p->unionid);
    }
    if (s->user_id && (signup || demo_rng_chance(r, 0.5))) {
        demo_buf_puts(b, ",\"name\":");
        demo_buf_json(b, p->name);
    }
    if (s->user_id && p->is_member)
        demo_buf_printf(b, ",\"member_card\":\"%s\"", p->card);
    if (signup) {
        char ts[32];
        time_format_iso8601(demo_time_ms(s->t), ts);
        demo_buf_printf(b, ",\"createdAt\":\"%s\"", ts);
    }
    demo_buf_puts(b, "}");
    end(s, b);
}

static void signed_up(struct session *s)
{
    struct demo_buf *b = begin(s, "track", "event", "Signed Up");
    demo_buf_printf(b, ",\"properties\":{\"method\":\"%s\"}",
                    s->ch == CH_MINI ? "wechat_phone" : "sms_code");
    end(s, b);
    identify(s, true);
}

static void products_array(struct demo_buf *b, const struct demo_day *day, const size_t *cart,
                           const int *qty, size_t n)
{
    demo_buf_puts(b, ",\"products\":[");
    for (size_t i = 0; i < n; i++) {
        demo_buf_puts(b, i ? ",{" : "{");
        product_fields(b, day, cart[i], qty[i]);
        demo_buf_puts(b, "}");
    }
    demo_buf_puts(b, "]");
}

static void order(struct session *s, const size_t *cart, const int *qty, size_t n)
{
    struct demo_visit *v = s->v;
    struct demo_world *w = s->w;
    uint64_t seq = ++w->online_seq;
    char id[32], coupon[32] = "";
    demo_order_id(w->seed, WHERE_ONLINE, seq, id);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += demo_promo_price(v->day, demo_products[cart[i]].price) * qty[i];
    int64_t discount = 0;
    if (v->day->promo != PROMO_NONE && total >= 30000) {
        discount = 3000;
        demo_promo_campaign((enum demo_promo)v->day->promo, v->day->year, coupon);
    }
    view(s, "结算", "/checkout", "pages/order/confirm", "确认订单 - 悦选");
    struct demo_buf *b = begin(s, "track", "event", "Checkout Started");
    demo_buf_printf(b, ",\"properties\":{\"order_id\":\"%s\",\"value\":", id);
    demo_buf_money(b, total);
    demo_buf_puts(b, ",\"revenue\":");
    demo_buf_money(b, total - discount);
    demo_buf_puts(b, ",\"currency\":\"CNY\"");
    products_array(b, v->day, cart, qty, n);
    demo_buf_puts(b, "}");
    end(s, b);

    b = begin(s, "track", "event", "Order Completed");
    demo_buf_printf(b, ",\"properties\":{\"order_id\":\"%s\",\"total\":", id);
    demo_buf_money(b, total - discount);
    demo_buf_puts(b, ",\"revenue\":");
    demo_buf_money(b, total - discount);
    demo_buf_puts(b, ",\"discount\":");
    demo_buf_money(b, discount);
    if (coupon[0])
        demo_buf_printf(b, ",\"coupon\":\"%s\"", coupon);
    demo_buf_puts(b, ",\"currency\":\"CNY\"");
    products_array(b, v->day, cart, qty, n);
    demo_buf_puts(b, "}");
    end(s, b);
    demo_schedule_follow(v, WHERE_ONLINE, seq, cart[0], false);
}

/* Writes the session's context (the same in each of its messages, but for the
 * landing message's campaign) once, into s->context. */
static void build_context(struct session *s)
{
    const struct demo_person *p = s->p;
    struct demo_buf *b = &s->w->text;
    b->len = 0;
    b->overflow = false;
    switch (s->ch) {
    case CH_WEB:
        demo_buf_printf(b,
                        "\"library\":{\"name\":\"analytics.js\",\"version\":\"next-1.70.0\"},"
                        "\"locale\":\"zh-CN\",\"ip\":\"%s\",\"userAgent\":",
                        p->ip);
        demo_buf_json(b, s->ua);
        break;
    case CH_APP:
        demo_buf_printf(
            b,
            "\"library\":{\"name\":\"%s\",\"version\":\"%s\"},\"app\":{\"name\":\"悦选\","
            "\"version\":\"%s\"},\"device\":{\"id\":"
            "\"%s\",\"manufacturer\":\"%s\",\"model\":\"%s\",\"type\":\"%s\"},\"os\":{"
            "\"name\":\"%s\",\"version\":\"%s\"},\"locale\":\"zh-CN\",\"ip\":\"%s\"",
            p->ios ? "analytics-ios" : "analytics-android", p->ios ? "4.1.8" : "4.11.3",
            s->app_version, s->device, s->model->manufacturer, s->model->model,
            p->ios ? "ios" : "android", p->ios ? "iOS" : "Android", s->model->os_version, p->ip);
        break;
    default:
        demo_buf_printf(b,
                        "\"library\":{\"name\":\"analytics-wechat-miniprogram\",\"version\":"
                        "\"1.4.2\"},\"app\":{\"name\":\"悦选小程序\",\"version\":\"%s\"},"
                        "\"traits\":{\"wechat_openid\":\"%s\"",
                        s->app_version, p->openid);
        if (p->has_unionid)
            demo_buf_printf(b, ",\"wechat_unionid\":\"%s\"", p->unionid);
        demo_buf_puts(b, "},\"locale\":\"zh_CN\"");
    }
    if (b->overflow || b->len >= sizeof(s->context)) {
        if (!s->w->rc)
            s->w->rc = err_set(s->w->e, ERR_LIMIT, "a message's context is longer than %d bytes",
                               SESSION_MAX_CONTEXT);
        s->context_len = 0;
        return;
    }
    memcpy(s->context, b->p, b->len);
    s->context_len = b->len;
}

/* ---- A session ---------------------------------------------------------------------- */

static void session_init(struct session *s, struct demo_visit *v, enum demo_channel ch)
{
    const struct demo_person *p = v->p;
    struct demo_world *w = v->w;
    memset(s, 0, sizeof(*s));
    s->v = v;
    s->w = w;
    s->p = p;
    s->r = v->r;
    s->ch = ch;
    s->src = ch == CH_WEB ? DEMO_WEB : ch == CH_APP ? DEMO_APP : DEMO_MINIPROGRAM;
    s->key = demo_hash(w->seed, TAG_MESSAGE, 0, 0);
    s->t = v->t;
    uint32_t visits = v->c->visits;
    uint64_t h;
    switch (ch) {
    case CH_WEB: /* a cookie lives for about six visits */
        h = demo_hash(w->seed, p->idx, TAG_WEB_ANON, visits / 6);
        s->ua = user_agents[demo_hash(w->seed, p->idx, TAG_WEB_ANON, 0) % ARRAY_SIZE(user_agents)];
        break;
    case CH_APP: { /* a new phone (and install) every forty visits or so */
        uint64_t d = demo_hash(w->seed, p->idx, TAG_DEVICE, visits / 40);
        if (p->ios) {
            demo_uuid_upper(d, demo_mix64(d), s->device);
            s->model = &ios_models[d % ARRAY_SIZE(ios_models)];
        } else {
            snprintf(s->device, sizeof(s->device), "%016" PRIx64, demo_mix64(d));
            s->model = &android_models[d % ARRAY_SIZE(android_models)];
        }
        h = demo_hash(w->seed, p->idx, TAG_APP_ANON, visits / 40);
        break;
    }
    default:
        h = demo_hash(w->seed, p->idx, TAG_MINI_ANON, 0);
    }
    demo_uuid(h, demo_mix64(h), s->anon);
    int step = (int)(v->t / 86400 / 61); /* a release every two months */
    snprintf(s->app_version, sizeof(s->app_version), "%d.%d.0", step < 7 ? 5 : 6,
             step < 7 ? step + 1 : step - 7);

    static const double camp_p[CH_COUNT] = {0, 0, 0.35, 0.12, 0.3};
    if (demo_rng_chance(s->r, camp_p[ch])) {
        const struct campaign *list = ch == CH_WEB   ? web_campaigns
                                      : ch == CH_APP ? app_campaigns
                                                     : mini_campaigns;
        size_t n = ch == CH_WEB   ? ARRAY_SIZE(web_campaigns)
                   : ch == CH_APP ? ARRAY_SIZE(app_campaigns)
                                  : ARRAY_SIZE(mini_campaigns);
        float wt[16];
        for (size_t i = 0; i < n; i++)
            wt[i] = list[i].weight;
        s->camp = &list[demo_rng_weighted(s->r, wt, n)];
        bool search = strcmp(s->camp->medium, "cpc") == 0;
        if (v->day->promo == PROMO_NONE || (search && demo_rng_chance(s->r, 0.5)) ||
            !demo_promo_campaign((enum demo_promo)v->day->promo, v->day->year, s->camp_name))
            snprintf(s->camp_name, sizeof(s->camp_name), "%s", s->camp->evergreen);
        s->camp_pending = true;
    }
    build_context(s);
}

void demo_visit_online(struct demo_visit *v, enum demo_channel ch)
{
    const struct demo_person *p = v->p;
    struct demo_rng *r = v->r;
    struct session session, *s = &session;
    session_init(s, v, ch);
    static const double logged_in[CH_COUNT] = {0, 0, 0.45, 0.8, 0.6};
    bool signup = v->registered && !p->pre_existing && v->c->visits == p->reg_visit;
    if (v->registered && !signup && demo_rng_chance(r, logged_in[ch]))
        s->user_id = p->user_id;

    /* Landing. */
    if (ch == CH_APP) {
        struct demo_buf *b = begin(s, "track", "event", "Application Opened");
        demo_buf_printf(b, ",\"properties\":{\"from_background\":%s,\"version\":\"%s\"}",
                        demo_rng_chance(r, 0.4) ? "true" : "false", s->app_version);
        end(s, b);
        view(s, "首页", NULL, NULL, NULL);
    } else if (s->camp && ch == CH_WEB) {
        char path[64];
        snprintf(path, sizeof(path), "/campaign/%.40s", s->camp_name);
        view(s, "活动页", path, NULL, "活动专场 - 悦选");
    } else {
        view(s, "首页", "/", "pages/index/index", "悦选 - 品质生活好物");
    }
    if (signup)
        signed_up(s);

    /* Browsing. */
    static const float views_w[] = {0, 40, 30, 18, 8, 4};
    size_t nviews = demo_rng_weighted(r, views_w, ARRAY_SIZE(views_w));
    if (v->day->promo != PROMO_NONE && nviews < SESSION_MAX_VIEWS)
        nviews++;
    size_t viewed[SESSION_MAX_VIEWS];
    for (size_t i = 0; i < nviews; i++) {
        viewed[i] = demo_pick_product(r, p->fav, v->day);
        view_product(s, viewed[i]);
    }
    if (!v->buy) {
        if (demo_rng_chance(r, 0.3))
            add_product(s, viewed[demo_rng_below(r, (uint32_t)nviews)], 1);
        if (v->registered && !s->user_id && demo_rng_chance(r, 0.15))
            identify(s, false);
        return;
    }

    /* Ordering. */
    size_t cart[SESSION_MAX_CART];
    int qty[SESSION_MAX_CART];
    size_t n =
        1 + demo_rng_below(r, (uint32_t)(nviews < SESSION_MAX_CART ? nviews : SESSION_MAX_CART));
    for (size_t i = 0; i < n; i++) {
        cart[i] = viewed[i];
        qty[i] = demo_rng_chance(r, 0.85) ? 1 : 2;
        add_product(s, cart[i], qty[i]);
    }
    if (!s->user_id) /* log in, or a guest's contact details */
        identify(s, false);
    order(s, cart, qty, n);
}
