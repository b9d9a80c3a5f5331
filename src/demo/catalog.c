/* catalog.c - what the demo retailer sells, where, and when people buy: products,
 * stores, cities, the calendar of promotions (6.18, Double 11, 12.12, Chinese New
 * Year, Women's Day), hours of the day, and the texts of reviews and tickets. */
#include "demo/demo.h"

const char *const demo_category_names[CAT_COUNT] = {"母婴", "美妆", "食品", "服饰", "家居", "数码"};

/* 13-digit EAN barcodes (valid check digits); prices in fen. */
const struct demo_product demo_products[] = {
    {"6937410010074", "婴儿纸尿裤 L码 52片", CAT_BABY, SEASON_ALL, 12900},
    {"6937410010449", "婴幼儿配方奶粉 3段 800g", CAT_BABY, SEASON_ALL, 29800},
    {"6937410010814", "婴儿湿巾 80抽×6包", CAT_BABY, SEASON_ALL, 5900},
    {"6937410011187", "儿童安全座椅", CAT_BABY, SEASON_ALL, 129900},
    {"6937410011552", "宝宝辅食米粉 250g", CAT_BABY, SEASON_ALL, 6800},
    {"6937410011927", "婴儿推车 轻便款", CAT_BABY, SEASON_ALL, 89900},
    {"6937410012290", "儿童保温杯", CAT_BABY, SEASON_WINTER, 8900},
    {"6937410012665", "孕妇防妊娠纹霜", CAT_BABY, SEASON_ALL, 16800},
    {"6937410013037", "婴儿连体衣 纯棉", CAT_BABY, SEASON_ALL, 9900},
    {"6937410013402", "电动吸奶器", CAT_BABY, SEASON_ALL, 59900},
    {"6937420010149", "保湿精华液 30ml", CAT_BEAUTY, SEASON_ALL, 35800},
    {"6937420010514", "氨基酸洁面乳", CAT_BEAUTY, SEASON_ALL, 8900},
    {"6937420010880", "哑光口红 #316", CAT_BEAUTY, SEASON_ALL, 23000},
    {"6937420011252", "防晒霜 SPF50+", CAT_BEAUTY, SEASON_SUMMER, 16800},
    {"6937420011627", "补水面膜 10片", CAT_BEAUTY, SEASON_ALL, 9900},
    {"6937420011993", "持妆粉底液", CAT_BEAUTY, SEASON_ALL, 42000},
    {"6937420012365", "紧致眼霜", CAT_BEAUTY, SEASON_ALL, 29800},
    {"6937420012730", "温和卸妆水 500ml", CAT_BEAUTY, SEASON_ALL, 11900},
    {"6937420013102", "淡香水 50ml", CAT_BEAUTY, SEASON_ALL, 65000},
    {"6937420013478", "护手霜套装", CAT_BEAUTY, SEASON_WINTER, 7900},
    {"6937430010214", "东北大米 5kg", CAT_FOOD, SEASON_ALL, 6900},
    {"6937430010580", "每日坚果 30袋", CAT_FOOD, SEASON_ALL, 13900},
    {"6937430010955", "进口纯牛奶 1L×12", CAT_FOOD, SEASON_ALL, 11800},
    {"6937430011327", "挂耳咖啡 50片", CAT_FOOD, SEASON_ALL, 9900},
    {"6937430011693", "西湖龙井 250g", CAT_FOOD, SEASON_ALL, 38800},
    {"6937430012065", "手工月饼礼盒", CAT_FOOD, SEASON_MOONCAKE, 26800},
    {"6937430012430", "有机燕麦片 1kg", CAT_FOOD, SEASON_ALL, 4500},
    {"6937430012805", "海苔零食 12包", CAT_FOOD, SEASON_ALL, 2900},
    {"6937430013178", "特级初榨橄榄油 1L", CAT_FOOD, SEASON_ALL, 8900},
    {"6937430013543", "年货坚果礼盒", CAT_FOOD, SEASON_CNY, 19900},
    {"6937440010280", "纯棉短袖T恤", CAT_APPAREL, SEASON_SUMMER, 9900},
    {"6937440010655", "轻薄羽绒服", CAT_APPAREL, SEASON_WINTER, 89900},
    {"6937440011027", "直筒牛仔裤", CAT_APPAREL, SEASON_ALL, 29900},
    {"6937440011393", "缓震跑步鞋", CAT_APPAREL, SEASON_ALL, 45900},
    {"6937440011768", "碎花连衣裙", CAT_APPAREL, SEASON_SUMMER, 35900},
    {"6937440012130", "羊毛针织衫", CAT_APPAREL, SEASON_WINTER, 49900},
    {"6937440012505", "防晒衣", CAT_APPAREL, SEASON_SUMMER, 19900},
    {"6937440012871", "免烫衬衫", CAT_APPAREL, SEASON_ALL, 22900},
    {"6937440013243", "棉袜 5双装", CAT_APPAREL, SEASON_ALL, 3900},
    {"6937440013618", "通勤双肩包", CAT_APPAREL, SEASON_ALL, 26900},
    {"6937450010355", "全棉四件套 1.8m", CAT_HOME, SEASON_ALL, 39900},
    {"6937450010720", "天然乳胶枕", CAT_HOME, SEASON_ALL, 25900},
    {"6937450011093", "不粘炒锅 32cm", CAT_HOME, SEASON_ALL, 19900},
    {"6937450011468", "收纳箱 3个装", CAT_HOME, SEASON_ALL, 7900},
    {"6937450011833", "不锈钢保温杯 500ml", CAT_HOME, SEASON_WINTER, 12900},
    {"6937450012205", "香薰蜡烛", CAT_HOME, SEASON_ALL, 8900},
    {"6937450012571", "纯棉浴巾", CAT_HOME, SEASON_ALL, 6900},
    {"6937450012946", "电热水壶 1.7L", CAT_HOME, SEASON_ALL, 15900},
    {"6937450013318", "桑蚕丝被", CAT_HOME, SEASON_WINTER, 109900},
    {"6937450013684", "平板拖把套装", CAT_HOME, SEASON_ALL, 13900},
    {"6937460010420", "降噪蓝牙耳机", CAT_DIGITAL, SEASON_ALL, 39900},
    {"6937460010796", "充电宝 20000mAh", CAT_DIGITAL, SEASON_ALL, 14900},
    {"6937460011168", "智能手表", CAT_DIGITAL, SEASON_ALL, 129900},
    {"6937460011533", "氮化镓充电器 65W", CAT_DIGITAL, SEASON_ALL, 12900},
    {"6937460011908", "机械键盘", CAT_DIGITAL, SEASON_ALL, 49900},
    {"6937460012271", "11英寸平板电脑", CAT_DIGITAL, SEASON_ALL, 299900},
    {"6937460012646", "手机壳", CAT_DIGITAL, SEASON_ALL, 4900},
    {"6937460013018", "智能音箱", CAT_DIGITAL, SEASON_ALL, 29900},
    {"6937460013384", "声波电动牙刷", CAT_DIGITAL, SEASON_ALL, 25900},
    {"6937460013759", "无线鼠标", CAT_DIGITAL, SEASON_ALL, 9900},
};
const size_t demo_nproducts = ARRAY_SIZE(demo_products);

/* Share of each category when a customer buys outside their favourite. */
static const float category_weight[CAT_COUNT] = {0.7f, 1.2f, 1.5f, 1.1f, 1.0f, 0.7f};

/* Cities without a store buy online only. */
const struct demo_city demo_cities[] = {
    {"上海", 14}, {"北京", 13}, {"广州", 9}, {"深圳", 9}, {"杭州", 7},   {"成都", 7},
    {"武汉", 5},  {"南京", 5},  {"西安", 4}, {"重庆", 5}, {"苏州", 4},   {"天津", 4},
    {"长沙", 3},  {"郑州", 3},  {"青岛", 2}, {"厦门", 2}, {"哈尔滨", 2}, {"昆明", 2},
};
const size_t demo_ncities = ARRAY_SIZE(demo_cities);

const struct demo_store demo_stores[] = {
    {"SH01", "上海南京西路店", 0, true}, {"SH02", "上海五角场店", 0, false},
    {"SH03", "上海陆家嘴店", 0, false},  {"BJ01", "北京三里屯店", 1, true},
    {"BJ02", "北京西单店", 1, false},    {"BJ03", "北京望京店", 1, false},
    {"GZ01", "广州天河城店", 2, false},  {"GZ02", "广州北京路店", 2, true},
    {"SZ01", "深圳万象城店", 3, false},  {"SZ02", "深圳海岸城店", 3, false},
    {"HZ01", "杭州湖滨银泰店", 4, true}, {"CD01", "成都太古里店", 5, false},
    {"CD02", "成都春熙路店", 5, false},  {"WH01", "武汉江汉路店", 6, true},
    {"NJ01", "南京新街口店", 7, false},  {"XA01", "西安赛格店", 8, false},
    {"CQ01", "重庆解放碑店", 9, true},   {"SU01", "苏州观前街店", 10, false},
};
const size_t demo_nstores = ARRAY_SIZE(demo_stores);

static int find_day(const struct demo_day *days, int y, int m, int d)
{
    for (int i = 0; i < DEMO_DAYS; i++)
        if (days[i].year == y && days[i].month == m && days[i].mday == d)
            return i;
    return -1;
}

/* Marks [from, to] (day indices, clipped) with a factor and a promotion. */
static void mark(struct demo_day *days, int from, int to, float online, float pos, int promo)
{
    for (int i = from < 0 ? 0 : from; i <= to && i < DEMO_DAYS; i++) {
        days[i].online *= online;
        days[i].pos *= pos;
        if (promo != PROMO_NONE)
            days[i].promo = (uint8_t)promo;
    }
}

static void mark_date(struct demo_day *days, int y, int m, int d, int len, float online, float pos,
                      int promo)
{
    int i = find_day(days, y, m, d);
    if (i >= 0)
        mark(days, i, i + len - 1, online, pos, promo);
}

float demo_days_init(struct demo_day *days)
{
    /* An ordinary month of retail: quieter after the New Year, busier before it. */
    static const float month_factor[13] = {0,     1.0f,  0.85f, 1.0f, 0.95f, 1.0f, 1.0f,
                                           0.95f, 0.95f, 1.0f,  1.0f, 1.05f, 1.15f};
    for (int i = 0; i < DEMO_DAYS; i++) {
        struct demo_day *d = &days[i];
        int y, m, md;
        demo_day_date(i, &y, &m, &md);
        d->year = (uint16_t)y;
        d->month = (uint8_t)m;
        d->mday = (uint8_t)md;
        d->dow = (uint8_t)((i + 1) % 7); /* 2024-01-01 was a Monday */
        d->promo = PROMO_NONE;
        d->peak = false;
        d->seasons = 1u << SEASON_ALL;
        if (m >= 11 || m <= 2)
            d->seasons |= 1u << SEASON_WINTER;
        if (m >= 5 && m <= 8)
            d->seasons |= 1u << SEASON_SUMMER;
        d->online = month_factor[m] * (d->dow == 0 || d->dow == 6 ? 1.15f : 1.0f);
        d->pos = month_factor[m] * (d->dow == 6   ? 1.45f
                                    : d->dow == 0 ? 1.35f
                                    : d->dow == 5 ? 1.1f
                                                  : 0.9f);
    }
    for (int y = 2024; y <= 2025; y++) {
        /* 6.18: the first wave from 31 May, the run-up, then the day itself */
        mark_date(days, y, 5, 31, 4, 2.4f, 1.1f, PROMO_618);
        mark_date(days, y, 6, 4, 12, 1.5f, 1.05f, PROMO_618);
        mark_date(days, y, 6, 16, 2, 2.0f, 1.3f, PROMO_618);
        mark_date(days, y, 6, 18, 1, 6.0f, 1.5f, PROMO_618);
        mark_date(days, y, 6, 19, 2, 1.2f, 1.0f, PROMO_NONE);
        /* Double 11: pre-sale from 20 October, first wave, then 11 November */
        mark_date(days, y, 10, 20, 4, 1.6f, 1.0f, PROMO_1111);
        mark_date(days, y, 10, 24, 8, 2.0f, 1.0f, PROMO_1111);
        mark_date(days, y, 11, 1, 3, 2.4f, 1.1f, PROMO_1111);
        mark_date(days, y, 11, 4, 7, 1.5f, 1.05f, PROMO_1111);
        mark_date(days, y, 11, 11, 1, 8.0f, 1.5f, PROMO_1111);
        mark_date(days, y, 11, 12, 2, 1.3f, 1.0f, PROMO_NONE);
        /* 12.12, Women's Day, 520, the golden weeks, Christmas */
        mark_date(days, y, 12, 10, 2, 1.3f, 1.0f, PROMO_1212);
        mark_date(days, y, 12, 12, 1, 2.5f, 1.2f, PROMO_1212);
        mark_date(days, y, 3, 6, 3, 1.8f, 1.2f, PROMO_38);
        mark_date(days, y, 5, 20, 1, 1.4f, 1.2f, PROMO_NONE);
        mark_date(days, y, 5, 1, 5, 1.0f, 1.5f, PROMO_NONE);
        mark_date(days, y, 10, 1, 7, 0.9f, 1.6f, PROMO_NONE);
        mark_date(days, y, 12, 24, 2, 1.1f, 1.3f, PROMO_NONE);
        int p = find_day(days, y, 6, 18), q = find_day(days, y, 11, 11);
        if (p >= 0)
            days[p].peak = true;
        if (q >= 0)
            days[q].peak = true;
    }
    /* Chinese New Year's Eve (2024-02-09, 2025-01-28): the New Year shopping festival
     * before, shops and couriers resting after. Mid-autumn (2024-09-17, 2025-10-06):
     * mooncakes for four weeks before. */
    static const int cny[][3] = {{2024, 2, 9}, {2025, 1, 28}};
    static const int midautumn[][3] = {{2024, 9, 17}, {2025, 10, 6}};
    for (size_t k = 0; k < 2; k++) {
        int e = find_day(days, cny[k][0], cny[k][1], cny[k][2]);
        mark(days, e - 20, e - 8, 1.4f, 1.2f, PROMO_CNY);
        mark(days, e - 7, e - 1, 0.8f, 1.6f, PROMO_CNY);
        mark(days, e, e + 3, 0.45f, 0.3f, PROMO_NONE);
        mark(days, e + 4, e + 6, 0.6f, 0.8f, PROMO_NONE);
        for (int i = e - 30 < 0 ? 0 : e - 30; i < e; i++)
            days[i].seasons |= 1u << SEASON_CNY;
        int m = find_day(days, midautumn[k][0], midautumn[k][1], midautumn[k][2]);
        mark(days, m - 14, m - 1, 1.1f, 1.3f, PROMO_NONE);
        for (int i = m - 28; i < m && i >= 0; i++)
            days[i].seasons |= 1u << SEASON_MOONCAKE;
    }
    float wmax = 0;
    for (int i = 0; i < DEMO_DAYS; i++) {
        if (days[i].online > wmax)
            wmax = days[i].online;
        if (days[i].pos > wmax)
            wmax = days[i].pos;
    }
    return wmax;
}

size_t demo_pick_product(struct demo_rng *r, int fav, const struct demo_day *day)
{
    int cat = fav;
    if (!demo_rng_chance(r, 0.55))
        cat = (int)demo_rng_weighted(r, category_weight, CAT_COUNT);
    float w[16];
    size_t first = 0, n = 0;
    while (first < demo_nproducts && demo_products[first].category != cat)
        first++;
    while (first + n < demo_nproducts && demo_products[first + n].category == cat &&
           n < ARRAY_SIZE(w)) {
        const struct demo_product *pr = &demo_products[first + n];
        float season = pr->season == SEASON_ALL            ? 1.0f
                       : day->seasons & (1u << pr->season) ? 4.0f
                                                           : 0.25f;
        if (pr->season == SEASON_MOONCAKE || pr->season == SEASON_CNY)
            season = day->seasons & (1u << pr->season) ? 8.0f : 0.05f;
        w[n++] = season / (1.0f + (float)pr->price / 30000.0f);
    }
    return first + demo_rng_weighted(r, w, n);
}

int64_t demo_promo_price(const struct demo_day *day, int64_t price)
{
    if (day->promo == PROMO_618 || day->promo == PROMO_1111)
        return price * 85 / 100 / 10 * 10;
    if (day->promo != PROMO_NONE)
        return price * 95 / 100 / 10 * 10;
    return price;
}

uint32_t demo_pick_second(struct demo_rng *r, enum demo_channel ch, const struct demo_day *day)
{
    static const float store_hours[24] = {0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 3, 5,
                                          6, 6, 6, 6, 6, 7, 9, 10, 8, 4, 0, 0};
    static const float online_hours[24] = {3,    1.5f, 0.8f, 0.4f, 0.3f, 0.3f, 0.6f, 1.5f,
                                           2.5f, 3.5f, 4,    4.2f, 5,    4.5f, 4,    4,
                                           4,    4,    4.5f, 5.5f, 7,    8,    7,    5};
    uint32_t hour;
    if (ch == CH_POS)
        hour = (uint32_t)demo_rng_weighted(r, store_hours, 24);
    else if (day->peak && demo_rng_chance(r, 0.35))
        hour = 0; /* the midnight rush when 6.18 and 11.11 open */
    else
        hour = (uint32_t)demo_rng_weighted(r, online_hours, 24);
    return hour * 3600 + demo_rng_below(r, 3600);
}

const char *demo_promo_campaign(enum demo_promo promo, int year, char out[32])
{
    static const char *const names[PROMO_COUNT] = {NULL,       "618", "double11",
                                                   "double12", "cny", "womens_day"};
    if (promo <= PROMO_NONE || promo >= PROMO_COUNT)
        return NULL;
    snprintf(out, 32, "%s_%d", names[promo], year);
    return out;
}

void demo_fill(struct demo_buf *b, const char *tmpl, const char *product, const char *order,
               const char *card, const char *name, const char *date, const char *phone)
{
    static const struct {
        const char *key;
        size_t len;
    } keys[] = {{"{p}", 3}, {"{o}", 3}, {"{c}", 3}, {"{n}", 3}, {"{d}", 3}, {"{ph}", 4}};
    const char *values[] = {product, order, card, name, date, phone};
    const char *s = tmpl;
    while (*s) {
        const char *brace = strchr(s, '{');
        if (!brace) {
            demo_buf_puts(b, s);
            return;
        }
        demo_buf_put(b, s, (size_t)(brace - s));
        size_t k = 0;
        while (k < ARRAY_SIZE(keys) && strncmp(brace, keys[k].key, keys[k].len) != 0)
            k++;
        if (k == ARRAY_SIZE(keys)) {
            demo_buf_put(b, "{", 1);
            s = brace + 1;
            continue;
        }
        if (values[k])
            demo_buf_puts(b, values[k]);
        s = brace + keys[k].len;
    }
}

/* ---- Texts ------------------------------------------------------------------------ */

static const char *const review_good_zh[] = {
    "质量很好，包装也很用心，会回购！",
    "物流很快，第二天就到了。{p}和描述一致，满意。",
    "用了一周，效果不错，推荐给朋友了。",
    "性价比高，活动价很划算，囤了好几件。",
    "第三次购买了，一如既往的好 👍",
    "颜色很正，做工精细，家里人都说好看。",
    "客服很耐心，发货也快，五星好评！",
    "{p}很好用，比实体店便宜，下次还来。",
    "宝贝收到了，和图片一样，没有色差，好评。",
    "会员价很实惠，积分还能抵现，赞。",
};
static const char *const review_mid_zh[] = {
    "还行吧，中规中矩，就是包装有点简陋。",
    "东西一般，价格活动后还算可以。",
    "{p}还可以，不过快递有点慢，等了四天。",
    "整体满意，但是说明书写得不清楚，\"安装\"步骤看不懂。",
};
static const char *const review_bad_zh[] = {
    "收到的时候包装破损，有点失望。",      "用了两次就坏了，已经申请退款。",
    "和图片差别太大，不推荐，退了。",      "物流太慢了，等了一个星期，客服也不回复。",
    "{p}有异味，味道很大，不敢给孩子用。", "尺码偏小，建议买大一码，换货很麻烦。",
    "质量差，\"正品\"两个字打了问号。",
};
static const char *const review_good_en[] = {
    "Great quality, fast delivery. Will buy again!",
    "Exactly as described, very happy with the {p}.",
    "Good value for money, especially with the festival discount.",
    "My third order, still great. Recommended.",
    "Nice packaging, arrived the next day, five stars.",
};
static const char *const review_mid_en[] = {
    "It's OK, nothing special, but the price was fair.",
    "Decent, though delivery took longer than promised.",
};
static const char *const review_bad_en[] = {
    "Arrived damaged, the box was crushed.",
    "Stopped working after a week, very disappointed.",
    "Not as pictured, the colour is \"off\", returning it.",
    "Customer service never replied, I want a refund.",
};

#define PICK(r, list) ((list)[demo_rng_below((r), (uint32_t)ARRAY_SIZE(list))])

const char *demo_review_text(struct demo_rng *r, int rating, bool english)
{
    if (english)
        return rating >= 4   ? PICK(r, review_good_en)
               : rating == 3 ? PICK(r, review_mid_en)
                             : PICK(r, review_bad_en);
    return rating >= 4   ? PICK(r, review_good_zh)
           : rating == 3 ? PICK(r, review_mid_zh)
                         : PICK(r, review_bad_zh);
}

static const struct demo_ticket_text tickets_order_zh[] = {
    {"物流查询", "您好，我的订单{o}已经付款三天了，物流一直没有更新。\n请帮忙查一下，谢谢！", true},
    {"催发货", "订单号：{o}\n下单时说48小时内发货，现在还没发，什么情况？", true},
    {"发票申请", "请问订单{o}可以开增值税专用发票吗？抬头：上海某某科技有限公司，税号稍后提供。",
     true},
    {"商品咨询", "请问{p}适合敏感肌使用吗？另外，活动期间还有优惠券吗？", false},
    {"修改地址",
     "下单后发现地址写错了，麻烦把订单{o}的收货地址改成：\n北京市朝阳区望京街10号，"
     "谢谢。",
     true},
};
static const struct demo_ticket_text tickets_refund_zh[] = {
    {"退款申请", "商品{p}有质量问题，我已经申请退款，订单号：{o}。\n麻烦尽快处理，谢谢。", true},
    {"投诉",
     "收到的{p}是坏的，联系了两次客服都没人回复，\"七天无理由\"呢？\n"
     "再不处理我就投诉到平台了。",
     false},
    {"退货进度", "退货已经寄回去一周了，订单{o}的退款还没到账，请问什么时候能退？", true},
};
static const struct demo_ticket_text tickets_other_zh[] = {
    {"会员积分", "你好，我在门店消费后积分没有到账，会员卡号是{c}，请核实一下。", false},
    {"门店服务", "今天去门店，店员态度很差，结账排队半小时，希望改进。", false},
    {"账号问题", "App登录不了，提示\"账号异常\"，手机号{ph}，请帮忙看看。", false},
};
static const struct demo_ticket_text tickets_order_en[] = {
    {"Where is my order?",
     "Hello,\nmy order {o} hasn't arrived yet, and tracking shows no update since {d}.\nThanks, "
     "{n}",
     true},
    {"Invoice request",
     "Hi, could you send me a VAT invoice for order {o}, please? Company name "
     "to follow.",
     true},
};
static const struct demo_ticket_text tickets_refund_en[] = {
    {"Wrong item received",
     "Hi,\nI ordered {p} (order {o}) but received a different item, \"size M\" instead of "
     "\"L\".\nCan you exchange it, please?",
     true},
    {"Refund not received",
     "I returned the {p} two weeks ago, but the refund for order {o} has "
     "not arrived. Please check.",
     true},
};
static const struct demo_ticket_text tickets_other_en[] = {
    {"Cannot log in", "I can't log in to the app, it says \"account locked\". My phone is {ph}.",
     false},
    {"Membership points",
     "Hello, my points from the store visit last week are missing, card "
     "{c}. Thanks!",
     false},
};

const struct demo_ticket_text *demo_ticket_text(struct demo_rng *r, bool refund, bool english,
                                                bool has_order)
{
    if (!has_order)
        return english ? &PICK(r, tickets_other_en) : &PICK(r, tickets_other_zh);
    if (refund)
        return english ? &PICK(r, tickets_refund_en) : &PICK(r, tickets_refund_zh);
    return english ? &PICK(r, tickets_order_en) : &PICK(r, tickets_order_zh);
}
