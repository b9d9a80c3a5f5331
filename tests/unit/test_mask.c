/* test_mask.c - the masks, table-driven: each kind of field on the values people write
 * (Chinese and Latin, standardized and raw), the edge lengths, and UTF-8 safety (code
 * points, never bytes, and invalid UTF-8 masked whole). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/text.h"
#include "privacy/mask.h"

static void test_masks(void **state)
{
    (void)state;
    static const struct {
        const char *field, *value, *want;
    } cases[] = {
        /* phones: mainland mobiles national, others keep their country code */
        {"phone", "+8613812345678", "138****5678"},
        {"phone", "13812345678", "138****5678"},
        {"mobile", "138 1234 5678", "138****5678"},
        {"phone", "+14155550123", "+1******0123"},
        {"phone", "+442071838750", "+44******8750"},
        {"phone", "+85291234567", "+852****4567"},
        {"phone", "12345", "1***"},
        {"phone", "call me", "c***"},
        /* e-mails */
        {"email", "zhang.san@qq.com", "z***@qq.com"},
        {"email", "z@qq.com", "z***@qq.com"},
        {"email", "王小明@例子.中国", "王***@例子.中国"},
        {"email", "not-an-email", "no****il"},
        /* Chinese names: the surname, then one star per character */
        {"name", "王五", "王*"},
        {"name", "王小明", "王**"},
        {"name", "欧阳娜娜", "欧阳**"},
        {"name", "欧阳明", "欧阳*"},
        {"name", "欧阳", "欧*"},
        {"name", "王", "*"},
        {"full_name", "司马相如", "司马**"},
        /* Latin names: each word's first letter */
        {"name", "John Smith", "J*** S****"},
        {"firstName", "Zoë", "Z**"},
        /* resident ID numbers: first 4 and last 4 */
        {"id_number", "11010519491231002X", "1101**********002X"},
        {"idNumber", "110105194912310021", "1101**********0021"},
        {"id_number", "1234567", "1***"},
        /* bank cards: the last 4 */
        {"bank_card", "6222021234567890123", "***************0123"},
        {"card_number", "6222 0212 3456 7890", "**** **** **** 7890"},
        {"bank_card", "123", "***"},
        /* addresses: the city part */
        {"address", "北京市朝阳区建国路88号", "北京市***"},
        {"address", "广东省深圳市南山区科技园", "广东省深圳市***"},
        {"address", "浙江杭州西湖区文三路", "浙江杭州***"},
        {"address", "221B Baker Street, London", "***, London"},
        {"street", "221B Baker Street", "***"},
        /* birth dates: the year */
        {"birthday", "1990-05-17", "1990-**-**"},
        {"birth_date", "19900517", "1990****"},
        {"dob", "May 1990", "Ma****90"},
        /* the default for other fields */
        {"member_card", "M001", "M***"},
        {"wechat_openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "oU****6o"},
        {"anything", "", ""},
        {"anything", "x", "*"},
        {"anything", "张三丰的卡", "张***"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *got = mask_field(cases[i].field, cases[i].value);
        assert_non_null(got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s \"%s\": got \"%s\", want \"%s\"", cases[i].field, cases[i].value, got,
                     cases[i].want);
        free(got);
    }
}

static void test_utf8_safe(void **state)
{
    (void)state;
    /* Every mask of valid UTF-8 is valid UTF-8, however the value is cut. */
    static const char *const values[] = {"欧阳娜娜",     "北京市朝阳区",           "Zoë Ångström",
                                         "王@例子.中国", "１３８１２３４５６７８", "😀😀😀😀😀😀😀😀😀"};
    for (int k = MASK_DEFAULT; k <= MASK_BIRTH_DATE; k++)
        for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
            char *m = mask_value((enum mask_kind)k, values[i], strlen(values[i]));
            assert_non_null(m);
            if (text_scan_json(m, strlen(m), 0, NULL) != 0)
                fail_msg("kind %d of \"%s\" gave invalid UTF-8", k, values[i]);
            /* a mask never shows the whole value */
            assert_string_not_equal(m, values[i]);
            free(m);
        }
    /* Invalid UTF-8 and oversized values are masked whole. */
    char *m = mask_value(MASK_NAME, "\xe7\x8e", 2);
    assert_string_equal(m, "***");
    free(m);
    char *big = malloc(MASK_MAX_INPUT + 2);
    memset(big, 'a', MASK_MAX_INPUT + 1);
    big[MASK_MAX_INPUT + 1] = 0;
    m = mask_value(MASK_DEFAULT, big, strlen(big));
    assert_string_equal(m, "***");
    free(m);
    free(big);
}

static void test_kinds(void **state)
{
    (void)state;
    assert_int_equal(mask_kind_of("Phone", 5), MASK_PHONE);
    assert_int_equal(mask_kind_of("ID-Number", 9), MASK_ID_NUMBER);
    assert_int_equal(mask_kind_of("date_of_birth", 13), MASK_BIRTH_DATE);
    assert_int_equal(mask_kind_of("colour", 6), MASK_DEFAULT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_masks),
        cmocka_unit_test(test_utf8_safe),
        cmocka_unit_test(test_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
