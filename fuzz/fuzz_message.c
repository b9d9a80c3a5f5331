/* fuzz_message.c - the collection parser: a request body through the same checks
 * the server runs (UTF-8 and depth scan, JSON, Segment-spec normalization of one
 * message or a batch, a tracking plan with patterns). The first byte picks the
 * endpoint. Build for libFuzzer with `make fuzz-libfuzzer`; the suite replays
 * fuzz/corpus/message. */
#include <cJSON.h>

#include "core/text.h"
#include "ingest/message.h"
#include "ingest/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_plan[] =
    "{\"unplanned\":\"flag\",\"calls\":{\"identify\":{\"properties\":{\"traits\":{\"type\":"
    "\"object\",\"properties\":{\"phone\":{\"type\":\"string\",\"pattern\":\"^1[3-9]\\\\d{9}$"
    "\"},\"email\":{\"type\":\"string\",\"maxLength\":64}}}}}},\"events\":{\"Order "
    "Completed\":{\"required\":[\"properties\"],\"properties\":{\"properties\":{\"type\":"
    "\"object\",\"required\":[\"total\"],\"properties\":{\"total\":{\"type\":\"number\","
    "\"minimum\":0},\"currency\":{\"enum\":[\"CNY\",\"USD\"]},\"items\":{\"type\":\"array\","
    "\"items\":{\"type\":\"object\",\"properties\":{\"sku\":{\"type\":\"string\"}}}}}}}}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct plan *plan;
    if (!plan) {
        struct err e = {0};
        if (plan_compile(fuzz_plan, sizeof(fuzz_plan) - 1, &plan, &e)) {
            fprintf(stderr, "fuzz plan: %s\n", e.msg);
            abort();
        }
    }
    if (size < 1 || size > 512 * 1024)
        return 0;
    enum message_type type = (enum message_type)(data[0] % (MSG_TYPE_COUNT + 1)) - 1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1, at;
    if (text_scan_json(body, len, MESSAGE_MAX_DEPTH, &at))
        return 0;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root)
        return 0;
    cJSON *items = type == MSG_TYPE_NONE ? cJSON_GetObjectItemCaseSensitive(root, "batch") : NULL;
    cJSON *msg = items && cJSON_IsArray(items) ? items->child : root;
    for (int i = 0; msg && i < BATCH_MAX_MESSAGES; i++, msg = items ? msg->next : NULL) {
        cJSON *reasons = cJSON_CreateArray();
        struct message_info info;
        int rc = cJSON_IsObject(msg)
                     ? message_check(msg, type, 1795000000000, INT64_MIN, &info, reasons)
                     : ERR_INVALID;
        if (rc == 0)
            plan_check(plan, msg, reasons);
        char *text = cJSON_PrintUnformatted(msg);
        if (text && rc == 0) {
            char *shown = message_render(text, strlen(text), message_type_name(info.type),
                                         info.message_id, info.received_at, info.timestamp, "web");
            cJSON_free(shown);
        }
        free(text);
        cJSON_Delete(reasons);
        if (!items)
            break;
    }
    cJSON_Delete(root);
    return 0;
}
