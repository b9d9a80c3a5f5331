/* config.c - the settings table and its readers. See config.h. */
#include <cJSON.h>

#include "core/config.h"

struct config cfg;

enum setting_type { SET_STRING, SET_INT, SET_ENUM };

struct setting {
    const char *name; /* also the flag (--max-queue) and env name (CUSTOS_MAX_QUEUE) */
    enum setting_type type;
    size_t offset; /* into struct config */
    const char *def;
    long min, max;       /* SET_INT bounds */
    const char *choices; /* SET_ENUM: "a|b|c" */
    bool secret;
    const char *help;
};

#define S(field) offsetof(struct config, field)
static const struct setting settings[] = {
    {"db", SET_STRING, S(db), "custos.db", 0, 0, NULL, false,
     "SQLite database file (created with its migrations on first use)"},
    {"listen", SET_STRING, S(listen), "127.0.0.1:8080", 0, 0, NULL, false,
     "HOST:PORT the HTTP server listens on (port 0 picks a free one)"},
    {"log-level", SET_ENUM, S(log_level), "info", 0, 0, "debug|info|warn|error", false,
     "least severe log level written to stderr"},
    {"synchronous", SET_ENUM, S(synchronous), "full", 0, 0, "full|normal", false,
     "full: every commit is fsynced before a request is answered (durable); normal: "
     "faster, a power cut can lose the last commits"},
    {"max-queue", SET_INT, S(max_queue), "200000", 100, 100000000, NULL, false,
     "messages waiting for the writer before new requests get 429 Too Many Requests"},
    {"max-connections", SET_INT, S(max_connections), "1024", 1, 65536, NULL, false,
     "simultaneous HTTP connections (each has a thread)"},
    {"request-timeout", SET_INT, S(request_timeout), "30", 1, 3600, NULL, false,
     "seconds an idle HTTP connection is kept open"},
    {"shutdown-timeout", SET_INT, S(shutdown_timeout), "10", 0, 3600, NULL, false,
     "seconds SIGTERM waits for in-flight requests to finish"},
    {"tls-cert", SET_STRING, S(tls_cert), "", 0, 0, NULL, false,
     "custos serve: PEM certificate chain file; with tls-key, the server speaks HTTPS only"},
    {"tls-key", SET_STRING, S(tls_key), "", 0, 0, NULL, false,
     "custos serve: PEM private key file of tls-cert (keep it 0600)"},
    {"identity-types", SET_STRING, S(identity_types),
     "id_number:1,user_id:1,member_card:1,wechat_unionid:1,crm_id:3,email:5,phone:3,"
     "wechat_openid:3,marketplace_buyer:3,device_id:10,anonymous_id:0",
     0, 0, NULL, false,
     "identifier types that link records into profiles, highest priority first, each with "
     "the most a profile may have (0: no limit); a link that would break a limit is refused"},
    {"identity-blocked", SET_STRING, S(identity_blocked),
     "null,none,0,-,n/a,test,test@test.com,+8613800000000,+8613800138000,+8613888888888,"
     "+8611111111111",
     0, 0, NULL, false, "identifier values (standardized) that never link records"},
    {"resolve-incremental", SET_ENUM, S(resolve_incremental), "on", 0, 0, "on|off", false,
     "on: custos serve resolves new events into profiles as they are committed (within a "
     "second), and custos import the rows it loads; off: profiles change only when custos "
     "resolve runs"},
    {"identity-match", SET_ENUM, S(identity_match), "on", 0, 0, "on|off", false,
     "custos resolve: after the identifiers, compare profiles that share none on name, "
     "birth date, city and gender (Fellegi-Sunter, weights fitted by EM on the store)"},
    {"identity-match-link", SET_INT, S(identity_match_link), "990", 1, 999, NULL, false,
     "custos resolve: per mille posterior match probability at which two profiles are "
     "linked (journaled as a probabilistic merge)"},
    {"identity-match-review", SET_INT, S(identity_match_review), "500", 1, 999, NULL, false,
     "custos resolve: per mille posterior from which a pair below the link threshold waits "
     "in the review queue (custos review list)"},
    {"identity-detect-names", SET_INT, S(identity_detect_names), "5", 0, 1000000, NULL, false,
     "custos resolve: an identifier value carried by records with this many different "
     "names (a shop's own phone, a clerk's e-mail) is refused as a link and reported; 0: "
     "no detection"},
    {"quality-min-completeness", SET_INT, S(quality_min_completeness), "50", 0, 100, NULL, false,
     "custos quality: percent of rows a field must be filled in, else an alert"},
    {"quality-min-validity", SET_INT, S(quality_min_validity), "90", 0, 100, NULL, false,
     "custos quality: percent of a phone, e-mail or ID number field's values that must pass "
     "standardization (placeholders fail), else an alert"},
    {"quality-max-age-hours", SET_INT, S(quality_max_age_hours), "48", 1, 87600, NULL, false,
     "custos quality: hours since a source's newest event or record, past which it is an "
     "alert"},
    {"classification", SET_STRING, S(classification), "", 0, 0, NULL, false,
     "sensitivity class per field over the built-in table (docs/privacy.md): "
     "FIELD:CLASS entries, CLASS one of public, internal, sensitive, core-sensitive, and "
     "*:CLASS for fields named nowhere (default internal)"},
    {"cli-role", SET_ENUM, S(cli_role), "admin", 0, 0, "admin|analyst|marketing|service|risk",
     false,
     "the role command-line reads act with (profile show, events, quarantine show): a "
     "service desk's shell can be given service (docs/privacy.md)"},
    {"role-policy", SET_STRING, S(role_policy), "", 0, 0, NULL, false,
     "what each role sees of each class over the built-in table (docs/privacy.md): "
     "ROLE:CLASS:ACTION entries, ACTION one of clear, masked, hidden"},
    {"dp-budget", SET_STRING, S(dp_budget), "10", 0, 0, NULL, false,
     "differentially private aggregates: the total epsilon an API key may spend (a "
     "positive number; docs/privacy.md)"},
    {"dp-clamp", SET_STRING, S(dp_clamp), "0:100000", 0, 0, NULL, false,
     "differentially private sums: LO:HI in minor units, the range each profile's money in "
     "one cell of an answer is clamped to (LO <= 0 <= HI); the noise grows with the larger "
     "of -LO and HI (docs/privacy.md)"},
    {"dp-max-orders", SET_INT, S(dp_max_orders), "10", 1, 1000000, NULL, false,
     "differentially private order counts: the most orders one profile counts for in one "
     "cell of an answer (the noise grows with it)"},
    {"quality-max-duplicate-before", SET_INT, S(quality_max_duplicate_before), "100", 0, 100, NULL,
     false,
     "custos quality: percent of an identifier field's values shared with another row (as "
     "written, before resolution), past which it is an alert (100: never)"},
    {"quality-max-duplicate-after", SET_INT, S(quality_max_duplicate_after), "100", 0, 100, NULL,
     false,
     "custos quality: percent of a source's resolved rows that share a profile with another "
     "of its rows (1 - profiles / rows), past which it is an alert (100: never)"},
    {"quality-interval", SET_INT, S(quality_interval), "300", 0, 86400, NULL, false,
     "custos serve: seconds between two quality measurements published on /metrics (0: "
     "never; a measurement reads the whole store)"},
    {"survivorship", SET_STRING, S(survivorship), "*:most_recent", 0, 0, NULL, false,
     "rules choosing each trait's golden value, TRAIT:RULE separated by commas; RULE is "
     "most_recent, most_frequent or source_priority(SOURCE,...); * is every other trait, e.g. "
     "name:source_priority(crm,pos,web),city:most_frequent,*:most_recent"},
    {"profile-cache", SET_ENUM, S(profile_cache), "on", 0, 0, "on|off", false,
     "custos serve: answer profile reads from an in-memory index refreshed when the store "
     "changes (on), or with queries on one shared connection per request (off, the old way)"},
    /* privacy, data side: consent and retention (docs/privacy.md) */
    {"consent-categories", SET_STRING, S(consent_categories), "", 0, 0, NULL, false,
     "consent categories of messages (context.consent.categoryPreferences, \"Consent "
     "Updated\" events) mapped to purposes over the built-in table: CATEGORY:PURPOSE "
     "entries, PURPOSE one of analytics, marketing, personalization, third_party"},
    {"consent-default", SET_ENUM, S(consent_default), "denied", 0, 0, "denied|granted", false,
     "what consent_allows answers for a purpose a person never decided (denied: opt-in)"},
    {"consent-sync-interval", SET_INT, S(consent_sync_interval), "10", 0, 86400, NULL, false,
     "custos serve: seconds between reads of new messages for consents (0: never)"},
    {"retention", SET_STRING, S(retention), "", 0, 0, NULL, false,
     "maximum age per data category, e.g. events:365d,quarantine:30d,records:1095d "
     "(categories events, quarantine, records, consents; units d, h, m, s); empty keeps "
     "everything"},
    {"retention-interval", SET_INT, S(retention_interval), "3600", 0, 31536000, NULL, false,
     "custos serve: seconds between retention sweeps (0: never; custos privacy sweep "
     "runs one at once)"},
    {"tags", SET_STRING, S(tags), "", 0, 0, NULL, false,
     "rule-based tags, computed for every profile as data arrives: \"NAME: EXPRESSION; ...\" "
     "in the segment language, e.g. \"mother_baby: orders.count(last 180d, category = "
     "'母婴') >= 2\" (docs/segments.md)"},
    {"segment-refresh-ms", SET_INT, S(segment_refresh_ms), "200", 0, 3600000, NULL, false,
     "custos serve: how often new events and orders are added to the analytics snapshot and "
     "segment memberships evaluated again (0: never)"},
    {"analytics-time-zone", SET_STRING, S(analytics_time_zone), "UTC", 0, 0, NULL, false,
     "the time zone of analytics' days, weeks, months and quarters (kpi, cohort) and of "
     "dates given without one (--as-of, --from, --to): UTC or an offset such as +08:00 "
     "(China Standard Time, which has no daylight saving time)"},
    /* privacy, encryption at rest (docs/privacy.md, "Encryption at rest") */
    {"encryption", SET_ENUM, S(encryption), "off", 0, 0, "off|core-sensitive|sensitive", false,
     "which classes of fields are stored encrypted (libsodium AEAD) and matched through keyed "
     "blind indexes: core-sensitive, or sensitive and core-sensitive; off by default because "
     "it needs a master key that must be kept (and backed up) apart from the database"},
    {"master-key-file", SET_STRING, S(master_key_file), "", 0, 0, NULL, false,
     "file holding the 32-byte master key (64 hex digits or base64), mode 0600; the "
     "environment variable CUSTOS_MASTER_KEY (the key itself) overrides it"},
};
#undef S

enum origin { FROM_DEFAULT, FROM_FILE, FROM_ENV, FROM_FLAG };
static const char *const origin_names[] = {"default", "file", "env", "flag"};
static enum origin origins[ARRAY_SIZE(settings)];
static char *config_path;

static void *field_of(const struct setting *s)
{
    return (char *)&cfg + s->offset;
}

static bool enum_has(const char *choices, const char *v)
{
    size_t vl = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == vl && memcmp(p, v, l) == 0)
            return true;
        p += l + (bar != NULL);
    }
    return false;
}

static int setting_set(const struct setting *s, const char *v, enum origin o, const char *where,
                       struct err *e)
{
    if (s->type == SET_INT) {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end)
            return err_set(e, ERR_INVALID, "%s: setting %s: \"%s\" is not a whole number", where,
                           s->name, v);
        if (n < s->min || n > s->max)
            return err_set(e, ERR_INVALID, "%s: setting %s: %ld is outside %ld..%ld", where,
                           s->name, n, s->min, s->max);
        *(long *)field_of(s) = n;
    } else {
        if (s->type == SET_ENUM && !enum_has(s->choices, v))
            return err_set(e, ERR_INVALID, "%s: setting %s: \"%s\" is not one of %s", where,
                           s->name, v, s->choices);
        char *copy = strdup(v);
        if (!copy)
            return err_set(e, ERR_NOMEM, "out of memory");
        char **slot = field_of(s);
        free(*slot);
        *slot = copy;
    }
    origins[s - settings] = o;
    return 0;
}

static const struct setting *setting_find(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
        const char *n = settings[i].name;
        if (strlen(n) != len)
            continue;
        /* Accept both spellings: max-queue and max_queue. */
        size_t j = 0;
        while (j < len && (n[j] == name[j] || (n[j] == '-' && name[j] == '_')))
            j++;
        if (j == len)
            return &settings[i];
    }
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = 0;
    return s;
}

/* The file format: "name = value" lines; '#' starts a comment line; values may be
 * quoted with double quotes. */
static int config_read_file(const char *path, bool must_exist, struct err *e)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!must_exist && errno == ENOENT)
            return 0;
        return err_set(e, ERR_IO, "cannot open config file %s: %s", path, strerror(errno));
    }
    char line[4096], where[512];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        char *s = trim(line);
        if (*s == 0 || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = err_set(e, ERR_INVALID, "%s: expected \"name = value\"", where);
            goto out;
        }
        *eq = 0;
        char *name = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = 0;
            val++;
        }
        const struct setting *st = setting_find(name, strlen(name));
        if (!st) {
            rc = err_set(e, ERR_INVALID, "%s: unknown setting \"%s\" (see custos config show)",
                         where, name);
            goto out;
        }
        rc = setting_set(st, val, FROM_FILE, where, e);
        if (rc)
            goto out;
    }
out:
    fclose(f);
    return rc;
}

static void remove_args(int *argc, char **argv, int at, int count)
{
    memmove(&argv[at], &argv[at + count], (size_t)(*argc - at - count + 1) * sizeof(char *));
    *argc -= count;
}

int config_load(int *argc, char **argv, struct err *e)
{
    int rc = 0;
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
        rc = setting_set(&settings[i], settings[i].def, FROM_DEFAULT, "default", e);
        if (rc)
            return rc;
    }
    /* The config file comes first: --config FILE, else CUSTOS_CONFIG, else ./custos.conf. */
    const char *path = getenv("CUSTOS_CONFIG");
    bool named = path != NULL;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < *argc) {
            path = argv[i + 1];
            named = true;
            remove_args(argc, argv, i, 2);
            break;
        }
        if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
            named = true;
            remove_args(argc, argv, i, 1);
            break;
        }
    }
    if (!path)
        path = "custos.conf";
    free(config_path);
    config_path = strdup(path);
    rc = config_read_file(path, named, e);
    if (rc)
        return rc;

    for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
        char env[64];
        int n = snprintf(env, sizeof(env), "CUSTOS_%s", settings[i].name);
        for (int j = 7; j < n; j++)
            env[j] = settings[i].name[j - 7] == '-' ? '_' : (char)(settings[i].name[j - 7] & ~0x20);
        const char *v = getenv(env);
        if (v) {
            rc = setting_set(&settings[i], v, FROM_ENV, env, e);
            if (rc)
                return rc;
        }
    }

    for (int i = 1; i < *argc;) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (strncmp(a, "--", 2) != 0) {
            i++;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        const struct setting *st = setting_find(name, eq ? (size_t)(eq - name) : strlen(name));
        if (!st) {
            i++;
            continue;
        }
        char where[80];
        snprintf(where, sizeof(where), "flag --%s", st->name);
        if (eq) {
            rc = setting_set(st, eq + 1, FROM_FLAG, where, e);
            remove_args(argc, argv, i, 1);
        } else if (i + 1 < *argc) {
            rc = setting_set(st, argv[i + 1], FROM_FLAG, where, e);
            remove_args(argc, argv, i, 2);
        } else {
            return err_set(e, ERR_USAGE, "flag --%s needs a value", st->name);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static void value_text(const struct setting *s, char *buf, size_t cap)
{
    if (s->secret && origins[s - settings] != FROM_DEFAULT)
        snprintf(buf, cap, "(set)");
    else if (s->type == SET_INT)
        snprintf(buf, cap, "%ld", *(long *)field_of(s));
    else
        snprintf(buf, cap, "%s", *(char **)field_of(s) ? *(char **)field_of(s) : "");
}

void config_show(FILE *out, bool json)
{
    char v[1024];
    if (json) {
        cJSON *o = cJSON_CreateObject();
        for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
            const struct setting *s = &settings[i];
            cJSON *item = cJSON_AddObjectToObject(o, s->name);
            value_text(s, v, sizeof(v));
            if (s->type == SET_INT && !s->secret)
                cJSON_AddNumberToObject(item, "value", (double)*(long *)field_of(s));
            else
                cJSON_AddStringToObject(item, "value", v);
            cJSON_AddStringToObject(item, "origin", origin_names[origins[i]]);
            cJSON_AddStringToObject(item, "default", s->def);
            cJSON_AddStringToObject(item, "help", s->help);
        }
        char *text = cJSON_PrintUnformatted(o);
        if (text)
            fprintf(out, "%s\n", text);
        free(text);
        cJSON_Delete(o);
        return;
    }
    fprintf(out, "config file: %s\n", config_path ? config_path : "custos.conf");
    fprintf(out, "%-24s %-24s %-8s %s\n", "SETTING", "VALUE", "ORIGIN", "MEANING");
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
        value_text(&settings[i], v, sizeof(v));
        fprintf(out, "%-24s %-24s %-8s %s\n", settings[i].name, v, origin_names[origins[i]],
                settings[i].help);
    }
}

void config_print_markdown(FILE *out)
{
    fprintf(out, "| setting | flag | environment | default | values | meaning |\n"
                 "| --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
        const struct setting *s = &settings[i];
        char env[64], values[96];
        int n = snprintf(env, sizeof(env), "CUSTOS_%s", s->name);
        for (int j = 7; j < n; j++)
            env[j] = s->name[j - 7] == '-' ? '_' : (char)(s->name[j - 7] & ~0x20);
        if (s->type == SET_INT)
            snprintf(values, sizeof(values), "%ld to %ld", s->min, s->max);
        else if (s->type == SET_ENUM) {
            /* a '|' would end the Markdown cell */
            size_t o = 0;
            for (const char *p = s->choices; *p && o + 3 < sizeof(values); p++) {
                if (*p == '|') {
                    values[o++] = ',';
                    values[o++] = ' ';
                } else {
                    values[o++] = *p;
                }
            }
            values[o] = 0;
        } else
            snprintf(values, sizeof(values), "text");
        fprintf(out, "| `%s` | `--%s` | `%s` | `%s` | %s | %s |\n", s->name, s->name, env, s->def,
                values, s->help);
    }
}

void config_print_flags(FILE *out)
{
    fprintf(out, "Settings (also in custos.conf as \"name = value\", or CUSTOS_NAME in the "
                 "environment):\n");
    fprintf(out, "  --config FILE            config file (default ./custos.conf)\n");
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
        const struct setting *s = &settings[i];
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s %s", s->name,
                 s->type == SET_INT ? "N" : (s->type == SET_ENUM ? s->choices : "VALUE"));
        fprintf(out, "  %-24s %s (default %s)\n", flag, s->help, s->def);
    }
}

void config_release(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
        if (settings[i].type != SET_INT) {
            char **slot = field_of(&settings[i]);
            free(*slot);
            *slot = NULL;
        }
    }
    free(config_path);
    config_path = NULL;
}
