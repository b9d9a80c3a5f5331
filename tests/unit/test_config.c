/* test_config.c - the settings table: defaults, the config file (comments, quotes, both
 * spellings of a name), environment over file, flags over environment (and taken out
 * of argv), errors naming the setting and where it came from, --config, and
 * config_show's JSON. Each test runs in a fresh temporary directory with no CUSTOS_*
 * variable set. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cJSON.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "core/config.h"

static const char *const env_names[] = {
    "CUSTOS_CONFIG",           "CUSTOS_DB",
    "CUSTOS_LISTEN",           "CUSTOS_LOG_LEVEL",
    "CUSTOS_SYNCHRONOUS",      "CUSTOS_MAX_QUEUE",
    "CUSTOS_MAX_CONNECTIONS",  "CUSTOS_REQUEST_TIMEOUT",
    "CUSTOS_SHUTDOWN_TIMEOUT",
};

static char start_dir[PATH_MAX];
static char temp_dir[64];

static void clear_env(void)
{
    for (size_t k = 0; k < ARRAY_SIZE(env_names); k++)
        unsetenv(env_names[k]);
}

static int setup(void **state)
{
    (void)state;
    clear_env();
    if (!getcwd(start_dir, sizeof(start_dir)))
        return -1;
    snprintf(temp_dir, sizeof(temp_dir), "/tmp/custos-test-config-XXXXXX");
    if (!mkdtemp(temp_dir) || chdir(temp_dir) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    config_release();
    clear_env();
    DIR *d = opendir(temp_dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                unlink(de->d_name);
        closedir(d);
    }
    if (chdir(start_dir) != 0)
        return -1;
    return rmdir(temp_dir);
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Runs config_load on a copy of args (NULL-terminated); returns its code and leaves the
 * remaining arguments, NULL-terminated, in out_argv (capacity 16). */
static int load_args(const char *const *args, int *argc, char **out_argv, struct err *e)
{
    int n = 0;
    while (args[n])
        n++;
    assert_true(n < 16);
    for (int k = 0; k <= n; k++)
        out_argv[k] = (char *)args[k];
    *argc = n;
    memset(e, 0, sizeof(*e));
    return config_load(argc, out_argv, e);
}

/* config_load with only the program name. */
static int load_plain(struct err *e)
{
    static const char *const args[] = {"custos", NULL};
    char *argv[16];
    int argc;
    return load_args(args, &argc, argv, e);
}

/* config_show --json, parsed; the caller deletes it. */
static cJSON *show_json(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    config_show(f, true);
    assert_int_equal(fclose(f), 0);
    cJSON *o = cJSON_ParseWithLength(buf, len);
    if (!cJSON_IsObject(o))
        fail_msg("config show --json is not a JSON object: %s", buf);
    free(buf);
    return o;
}

static const char *origin_of(const char *name)
{
    static char origin[16];
    cJSON *o = show_json();
    const char *s =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, name), "origin"));
    if (!s)
        fail_msg("config show --json has no origin for %s", name);
    snprintf(origin, sizeof(origin), "%s", s);
    cJSON_Delete(o);
    return origin;
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("\"%s\" does not contain \"%s\"", text, part);
}

static void test_defaults(void **state)
{
    (void)state;
    struct err e;
    assert_int_equal(load_plain(&e), 0); /* ./custos.conf missing: not an error */
    assert_string_equal(cfg.db, "custos.db");
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    assert_string_equal(cfg.log_level, "info");
    assert_string_equal(cfg.synchronous, "full");
    assert_int_equal(cfg.max_queue, 200000);
    assert_int_equal(cfg.max_connections, 1024);
    assert_int_equal(cfg.request_timeout, 30);
    assert_int_equal(cfg.shutdown_timeout, 10);
    cJSON *o = show_json();
    int settings = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, o)
    {
        settings++;
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(s, "origin")), "default");
    }
    assert_int_equal(settings, 41); /* 8 of the collector, 7 of identity resolution, 6 of
                                       data quality, 2 of profiles, 8 of privacy access
                                       (classification, tls-cert, tls-key, cli-role,
                                       role-policy, dp-budget, dp-clamp, dp-max-orders), 5 of
                                       consent and retention, 3 of analytics (tags,
                                       segment-refresh-ms, analytics-time-zone), 2 of
                                       encryption at rest */
    assert_string_equal(cfg.consent_default, "denied");
    assert_int_equal(cfg.retention_interval, 3600);
    assert_non_null(strstr(cfg.identity_types, "phone:"));
    assert_string_equal(cfg.tags, "");
    assert_int_equal(cfg.segment_refresh_ms, 200);
    cJSON_Delete(o);
}

static void test_file(void **state)
{
    (void)state;
    write_file("custos.conf", "# Custos settings\n"
                              "\n"
                              "   # an indented comment = not a setting\n"
                              "db = \"/var/lib/custos/my data.db\"\n"
                              "listen=0.0.0.0:9000\n"
                              "\tlog_level\t=\tdebug   \n"
                              "max_queue = 5000\n"
                              "max-connections = \"77\"\r\n"
                              "request_timeout = 60\n"
                              "synchronous = normal\n");
    struct err e;
    if (load_plain(&e))
        fail_msg("config_load: %s", e.msg);
    assert_string_equal(cfg.db, "/var/lib/custos/my data.db"); /* quotes stripped */
    assert_string_equal(cfg.listen, "0.0.0.0:9000");
    assert_string_equal(cfg.log_level, "debug");
    assert_string_equal(cfg.synchronous, "normal");
    assert_int_equal(cfg.max_queue, 5000);
    assert_int_equal(cfg.max_connections, 77);
    assert_int_equal(cfg.request_timeout, 60);
    assert_int_equal(cfg.shutdown_timeout, 10);
    assert_string_equal(origin_of("db"), "file");
    assert_string_equal(origin_of("max-queue"), "file");
    assert_string_equal(origin_of("shutdown-timeout"), "default");

    /* Both spellings name the same setting: the later line wins. */
    config_release();
    write_file("custos.conf", "max-queue = 300\nmax_queue = 400\n");
    assert_int_equal(load_plain(&e), 0);
    assert_int_equal(cfg.max_queue, 400);
    config_release();
    write_file("custos.conf", "max_queue = 400\nmax-queue = 300\n");
    assert_int_equal(load_plain(&e), 0);
    assert_int_equal(cfg.max_queue, 300);
}

static void test_env_overrides_file(void **state)
{
    (void)state;
    write_file("custos.conf", "db = file.db\nlisten = 127.0.0.1:1\nmax-queue = 5000\n");
    setenv("CUSTOS_DB", "env.db", 1);
    setenv("CUSTOS_MAX_QUEUE", "6000", 1);
    setenv("CUSTOS_LOG_LEVEL", "warn", 1);
    struct err e;
    if (load_plain(&e))
        fail_msg("config_load: %s", e.msg);
    assert_string_equal(cfg.db, "env.db");
    assert_int_equal(cfg.max_queue, 6000);
    assert_string_equal(cfg.log_level, "warn");
    assert_string_equal(cfg.listen, "127.0.0.1:1"); /* the file's, no variable */
    assert_string_equal(origin_of("db"), "env");
    assert_string_equal(origin_of("log-level"), "env");
    assert_string_equal(origin_of("listen"), "file");
}

static void test_flags_override_env_and_leave_argv(void **state)
{
    (void)state;
    write_file("custos.conf", "db = file.db\n");
    setenv("CUSTOS_DB", "env.db", 1);
    setenv("CUSTOS_LISTEN", "127.0.0.1:2", 1);
    static const char *const args[] = {
        "custos",      "serve", "--db",      "flag.db", "--verbose", "x", "--listen=1.2.3.4:5",
        "--max_queue", "700",   "--other=1", "y",       NULL};
    char *argv[16];
    int argc;
    struct err e;
    if (load_args(args, &argc, argv, &e))
        fail_msg("config_load: %s", e.msg);
    assert_string_equal(cfg.db, "flag.db");
    assert_string_equal(cfg.listen, "1.2.3.4:5");
    assert_int_equal(cfg.max_queue, 700);
    assert_string_equal(origin_of("db"), "flag");
    assert_string_equal(origin_of("listen"), "flag");
    assert_string_equal(origin_of("max-queue"), "flag");
    /* Recognised flags are gone; everything else is kept, in order, NULL-terminated. */
    static const char *const rest[] = {"custos", "serve", "--verbose", "x", "--other=1", "y"};
    assert_int_equal(argc, ARRAY_SIZE(rest));
    for (size_t k = 0; k < ARRAY_SIZE(rest); k++)
        assert_string_equal(argv[k], rest[k]);
    assert_null(argv[argc]);
}

static void test_double_dash_ends_flags(void **state)
{
    (void)state;
    static const char *const args[] = {"custos", "--db=a.db", "--", "--db", "b.db", NULL};
    char *argv[16];
    int argc;
    struct err e;
    assert_int_equal(load_args(args, &argc, argv, &e), 0);
    assert_string_equal(cfg.db, "a.db");
    assert_int_equal(argc, 4);
    assert_string_equal(argv[1], "--");
    assert_string_equal(argv[2], "--db");
    assert_string_equal(argv[3], "b.db");
    assert_null(argv[4]);
}

static void test_flag_without_value(void **state)
{
    (void)state;
    static const char *const args[] = {"custos", "serve", "--listen", NULL};
    char *argv[16];
    int argc;
    struct err e;
    assert_int_not_equal(load_args(args, &argc, argv, &e), 0);
    assert_contains(e.msg, "--listen");
}

static void test_named_config_file(void **state)
{
    (void)state;
    write_file("custos.conf", "db = default-file.db\n");
    write_file("other.conf", "db = other.db\nmax-queue = 1234\n");
    write_file("third.conf", "db = third.db\n");
    struct err e;
    char *argv[16];
    int argc;

    static const char *const a1[] = {"custos", "events", "--config", "other.conf", "-n", NULL};
    if (load_args(a1, &argc, argv, &e))
        fail_msg("config_load: %s", e.msg);
    assert_string_equal(cfg.db, "other.db");
    assert_int_equal(cfg.max_queue, 1234);
    assert_int_equal(argc, 3);
    assert_string_equal(argv[1], "events");
    assert_string_equal(argv[2], "-n");
    assert_null(argv[3]);
    config_release();

    static const char *const a2[] = {"custos", "--config=third.conf", NULL};
    assert_int_equal(load_args(a2, &argc, argv, &e), 0);
    assert_string_equal(cfg.db, "third.db");
    assert_int_equal(cfg.max_queue, 200000); /* not other.conf's */
    assert_int_equal(argc, 1);
    config_release();

    /* CUSTOS_CONFIG names the file; --config wins over it. */
    setenv("CUSTOS_CONFIG", "other.conf", 1);
    assert_int_equal(load_plain(&e), 0);
    assert_string_equal(cfg.db, "other.db");
    config_release();
    assert_int_equal(load_args(a2, &argc, argv, &e), 0);
    assert_string_equal(cfg.db, "third.db");
}

static void test_missing_config_file(void **state)
{
    (void)state;
    struct err e;
    char *argv[16];
    int argc;
    static const char *const a1[] = {"custos", "--config", "nowhere.conf", NULL};
    assert_int_equal(load_args(a1, &argc, argv, &e), ERR_IO);
    assert_contains(e.msg, "nowhere.conf");
    config_release();
    setenv("CUSTOS_CONFIG", "/nonexistent/custos.conf", 1);
    assert_int_equal(load_plain(&e), ERR_IO);
    assert_contains(e.msg, "/nonexistent/custos.conf");
    config_release();
    unsetenv("CUSTOS_CONFIG");
    assert_int_equal(load_plain(&e), 0); /* the default one missing is fine */
}

enum from { FROM_FILE, FROM_ENV, FROM_FLAG };

static const struct bad_case {
    enum from from;
    const char *name; /* as written: file name, variable or flag name */
    const char *value;
    const char *setting; /* named in the error */
} bad_cases[] = {
    {FROM_FILE, "max-queue", "99", "max-queue"}, /* below 100 */
    {FROM_FILE, "max_queue", "100000001", "max-queue"},
    {FROM_FILE, "max-queue", "lots", "max-queue"},
    {FROM_FILE, "max-queue", "150abc", "max-queue"}, /* a number, then more */
    {FROM_FILE, "max-queue", "", "max-queue"},
    {FROM_FILE, "max-queue", "99999999999999999999999", "max-queue"}, /* overflows long */
    {FROM_FILE, "max-connections", "0", "max-connections"},
    {FROM_FILE, "request-timeout", "3601", "request-timeout"},
    {FROM_FILE, "shutdown-timeout", "-1", "shutdown-timeout"},
    {FROM_FILE, "log-level", "verbose", "log-level"},
    {FROM_FILE, "log-level", "INFO", "log-level"},
    {FROM_FILE, "synchronous", "off", "synchronous"},
    {FROM_FILE, "synchronous", "ful", "synchronous"},
    {FROM_ENV, "CUSTOS_MAX_QUEUE", "abc", "max-queue"},
    {FROM_ENV, "CUSTOS_MAX_CONNECTIONS", "65537", "max-connections"},
    {FROM_ENV, "CUSTOS_SYNCHRONOUS", "fullx", "synchronous"},
    {FROM_FLAG, "max-queue", "1000.5", "max-queue"},
    {FROM_FLAG, "request_timeout", "0", "request-timeout"},
    {FROM_FLAG, "log-level", "trace", "log-level"},
};

static void test_bad_values(void **state)
{
    (void)state;
    for (size_t k = 0; k < ARRAY_SIZE(bad_cases); k++) {
        const struct bad_case *c = &bad_cases[k];
        char line[256], flag[128], where[128];
        const char *args[] = {"custos", NULL, NULL};
        char *argv[16];
        int argc;
        struct err e;
        unlink("custos.conf");
        if (c->from == FROM_FILE) {
            snprintf(line, sizeof(line), "# settings\ndb = x.db\n%s = %s\n", c->name, c->value);
            write_file("custos.conf", line);
            snprintf(where, sizeof(where), "custos.conf:3");
        } else if (c->from == FROM_ENV) {
            setenv(c->name, c->value, 1);
            snprintf(where, sizeof(where), "%s", c->name);
        } else {
            snprintf(flag, sizeof(flag), "--%s=%s", c->name, c->value);
            args[1] = flag;
            snprintf(where, sizeof(where), "--%s", c->setting);
        }
        int rc = load_args(args, &argc, argv, &e);
        if (c->from == FROM_ENV)
            unsetenv(c->name);
        config_release();
        if (rc != ERR_INVALID || !strstr(e.msg, c->setting) || !strstr(e.msg, where))
            fail_msg("%s = \"%s\": rc %d \"%s\", want %d naming %s and %s", c->name, c->value, rc,
                     e.msg, ERR_INVALID, c->setting, where);
    }
}

static void test_bounds_accepted(void **state)
{
    (void)state;
    write_file("custos.conf", "max-queue = 100\nmax-connections = 65536\nrequest-timeout = 1\n"
                              "shutdown-timeout = 0\nlog-level = error\n");
    struct err e;
    if (load_plain(&e))
        fail_msg("config_load: %s", e.msg);
    assert_int_equal(cfg.max_queue, 100);
    assert_int_equal(cfg.max_connections, 65536);
    assert_int_equal(cfg.request_timeout, 1);
    assert_int_equal(cfg.shutdown_timeout, 0);
    assert_string_equal(cfg.log_level, "error");
    config_release();
    setenv("CUSTOS_MAX_QUEUE", "100000000", 1);
    assert_int_equal(load_plain(&e), 0);
    assert_int_equal(cfg.max_queue, 100000000);
}

static void test_file_syntax_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *where, *also;
    } cases[] = {
        {"db = a.db\n# fine\ncolour = blue\n", "custos.conf:3", "colour"},
        {"\n\ndatabase = a.db\n", "custos.conf:3", "database"},
        {"Max-Queue = 300\n", "custos.conf:1", "Max-Queue"}, /* names are case-sensitive */
        {"db a.db\n", "custos.conf:1", "name = value"},
        {"db = a.db\nlisten\n", "custos.conf:2", "name = value"},
    };
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
        write_file("custos.conf", cases[k].text);
        struct err e;
        int rc = load_plain(&e);
        config_release();
        if (rc != ERR_INVALID || !strstr(e.msg, cases[k].where) || !strstr(e.msg, cases[k].also))
            fail_msg("%s: rc %d \"%s\", want %d naming %s and %s", cases[k].text, rc, e.msg,
                     ERR_INVALID, cases[k].where, cases[k].also);
    }
}

static void test_show_json(void **state)
{
    (void)state;
    write_file("custos.conf", "db = \"file \\\"quoted\\\".db\"\nmax-queue = 5000\n");
    setenv("CUSTOS_LISTEN", "0.0.0.0:1", 1);
    static const char *const args[] = {"custos", "--log-level", "debug", NULL};
    char *argv[16];
    int argc;
    struct err e;
    if (load_args(args, &argc, argv, &e))
        fail_msg("config_load: %s", e.msg);
    cJSON *o = show_json();
    static const struct {
        const char *name, *origin, *def;
    } want[] = {
        {"db", "file", "custos.db"},
        {"listen", "env", "127.0.0.1:8080"},
        {"log-level", "flag", "info"},
        {"synchronous", "default", "full"},
        {"max-queue", "file", "200000"},
        {"max-connections", "default", "1024"},
        {"request-timeout", "default", "30"},
        {"shutdown-timeout", "default", "10"},
        {"quality-min-completeness", "default", "50"},
        {"quality-min-validity", "default", "90"},
        {"quality-max-age-hours", "default", "48"},
        {"resolve-incremental", "default", "on"},
        {"classification", "default", ""},
        {"tls-cert", "default", ""},
        {"tls-key", "default", ""},
        {"cli-role", "default", "admin"},
        {"role-policy", "default", ""},
        {"dp-budget", "default", "10"},
        {"dp-clamp", "default", "0:100000"},
        {"dp-max-orders", "default", "10"},
        {"identity-match", "default", "on"},
        {"identity-match-link", "default", "990"},
        {"identity-match-review", "default", "500"},
        {"identity-detect-names", "default", "5"},
        {"quality-max-duplicate-before", "default", "100"},
        {"quality-max-duplicate-after", "default", "100"},
        {"quality-interval", "default", "300"},
        {"survivorship", "default", "*:most_recent"},
        {"profile-cache", "default", "on"},
        {"consent-categories", "default", ""},
        {"consent-default", "default", "denied"},
        {"consent-sync-interval", "default", "10"},
        {"retention", "default", ""},
        {"retention-interval", "default", "3600"},
        {"analytics-time-zone", "default", "UTC"},
        {"encryption", "default", "off"},
        {"master-key-file", "default", ""},
    };
    /* + identity-types, identity-blocked, tags, segment-refresh-ms */
    assert_int_equal(cJSON_GetArraySize(o), ARRAY_SIZE(want) + 4);
    for (size_t k = 0; k < ARRAY_SIZE(want); k++) {
        const cJSON *s = cJSON_GetObjectItem(o, want[k].name);
        assert_non_null(s);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(s, "origin")), want[k].origin);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(s, "default")), want[k].def);
        const char *help = cJSON_GetStringValue(cJSON_GetObjectItem(s, "help"));
        assert_true(help && *help);
    }
    /* Values: strings as strings (quotes and all), numbers as numbers. */
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "db"), "value")),
        "file \\\"quoted\\\".db");
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "listen"), "value")),
        "0.0.0.0:1");
    const cJSON *mq = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "max-queue"), "value");
    assert_true(cJSON_IsNumber(mq));
    assert_int_equal((long)mq->valuedouble, 5000);
    cJSON_Delete(o);

    /* The table form names the file and every setting with its origin. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    config_show(f, false);
    fclose(f);
    assert_contains(buf, "config file: custos.conf");
    assert_contains(buf, "0.0.0.0:1");
    assert_contains(buf, "shutdown-timeout");
    free(buf);
}

static void test_reload_resets(void **state)
{
    (void)state;
    /* A second load starts from the defaults again: nothing of the first one stays. */
    static const char *const args[] = {"custos", "--db", "first.db", "--max-queue", "999", NULL};
    char *argv[16];
    int argc;
    struct err e;
    assert_int_equal(load_args(args, &argc, argv, &e), 0);
    assert_string_equal(cfg.db, "first.db");
    assert_int_equal(load_plain(&e), 0); /* without release in between: no leak */
    assert_string_equal(cfg.db, "custos.db");
    assert_int_equal(cfg.max_queue, 200000);
    assert_string_equal(origin_of("db"), "default");
    config_release();
    assert_null(cfg.db);
    assert_int_equal(load_plain(&e), 0);
    assert_string_equal(cfg.db, "custos.db");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_file),
        T(test_env_overrides_file),
        T(test_flags_override_env_and_leave_argv),
        T(test_double_dash_ends_flags),
        T(test_flag_without_value),
        T(test_named_config_file),
        T(test_missing_config_file),
        T(test_bad_values),
        T(test_bounds_accepted),
        T(test_file_syntax_errors),
        T(test_show_json),
        T(test_reload_resets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
