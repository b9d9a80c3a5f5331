/* log.c - see log.h. */
#include <pthread.h>
#include <sodium.h>

#include "core/log.h"
#include "core/timeutil.h"

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_set_level_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            min_level = (enum log_level)i;
            return 0;
        }
    }
    return ERR_INVALID;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char line[1024], ts[32];
    time_format_iso8601(time_now_ms(), ts);
    int n = snprintf(line, sizeof(line), "%s %-5s ", ts, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
    line[len++] = '\n';
    /* One write per line so that lines from many threads never interleave. */
    fwrite(line, 1, len, stderr);
}

static unsigned char mask_key[crypto_shorthash_KEYBYTES];
static pthread_once_t mask_once = PTHREAD_ONCE_INIT;

static void mask_key_init(void)
{
    randombytes_buf(mask_key, sizeof(mask_key));
}

const char *log_value_mask(const char *value, size_t len, char *out, size_t cap)
{
    unsigned char h[crypto_shorthash_BYTES];
    pthread_once(&mask_once, mask_key_init);
    crypto_shorthash(h, (const unsigned char *)value, len, mask_key);
    snprintf(out, cap, "#%02x%02x%02x%02x", h[0], h[1], h[2], h[3]);
    return out;
}
