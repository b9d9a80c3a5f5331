/* demo.c - `custos demo`: writes the demo retail world (src/demo/demo.h) into a
 * directory, ready for `custos import`. */
#include <unistd.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "core/config.h"
#include "demo/demo.h"
#include "import/import.h"
#include "ingest/sources.h"

/* A seed: any unsigned 64-bit number. */
static int parse_seed(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || text[0] == '+' || text[0] == ' ')
        return cli_usage("demo", "--seed must be a whole number from 0 to %" PRIu64 ", not \"%s\"",
                         UINT64_MAX, text);
    *out = v;
    return 0;
}

/* Loads the files of a written world into the configured store, through the same
 * import and collection paths as any export: creates each source that is missing
 * (its write key goes to DIR/SOURCE.key) and imports its file with its mapping. */
static int demo_load(const char *dir)
{
    struct store *st;
    int rc = cli_open_store(&st);
    if (rc)
        return rc;
    struct err e = {0};
    for (int i = 0; i < DEMO_SOURCE_COUNT && !rc; i++) {
        const char *name = demo_source_name((enum demo_source)i);
        char key[64], path[4096];
        if (source_create(st, name, NULL, key, &e) == 0) {
            snprintf(path, sizeof(path), "%s/%s.key", dir, name);
            FILE *f = fopen(path, "w");
            if (f) {
                fprintf(f, "%s\n", key);
                fclose(f);
            }
        } else if (e.code != ERR_EXISTS) {
            rc = cli_fail("%s", e.msg);
        }
    }
    store_close(st);
    for (int i = 0; i < DEMO_SOURCE_COUNT && !rc; i++) {
        const char *file = demo_source_file((enum demo_source)i);
        const char *dot = strrchr(file, '.');
        char data[4096], mapping_path[4096], rejects_path[4200];
        snprintf(data, sizeof(data), "%s/%s", dir, file);
        snprintf(mapping_path, sizeof(mapping_path), "%s/%.*s.mapping.json", dir,
                 (int)(dot ? dot - file : (ptrdiff_t)strlen(file)), file);
        snprintf(rejects_path, sizeof(rejects_path), "%s.rejects.csv", data);
        struct mapping *m = NULL;
        struct importer *im = NULL;
        struct import_stats stats = {0};
        FILE *rejects = fopen(rejects_path, "w");
        uint64_t start = time_mono_ns();
        rc = mapping_load(mapping_path, &m, &e);
        if (!rc)
            rc = importer_new(cfg.db, demo_source_name((enum demo_source)i), m, rejects,
                              cli_progress_wanted(), &im, &e);
        if (!rc)
            rc = importer_file(im, data, &stats, &e);
        importer_free(im);
        mapping_free(m);
        if (rejects)
            fclose(rejects);
        if (!stats.rejected)
            remove(rejects_path);
        if (rc)
            return cli_fail("loading %s: %s", file, e.msg);
        printf("loaded %-26s %8" PRIu64 " new, %8" PRIu64 " unchanged, %6" PRIu64
               " rejected in %.1f s\n",
               file, stats.loaded + stats.replaced, stats.unchanged, stats.rejected,
               (double)(time_mono_ns() - start) / 1e9);
    }
    return rc;
}

int cmd_demo(int argc, char **argv)
{
    const char *customers_s = NULL, *seed_s = NULL, *dir = "demo";
    size_t npos;
    bool load = false;
    const struct cli_opt opts[] = {{"customers", &customers_s, NULL},
                                   {"seed", &seed_s, NULL},
                                   {"out", &dir, NULL},
                                   {"load", NULL, &load}};
    int rc = cli_parse("demo", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    int64_t customers = DEMO_DEFAULT_CUSTOMERS;
    uint64_t seed = DEMO_DEFAULT_SEED;
    if (customers_s && (rc = cli_parse_count("demo", "customers", customers_s, &customers)))
        return rc;
    if (customers < 1 || customers > DEMO_MAX_CUSTOMERS)
        return cli_usage("demo", "--customers must be between 1 and %d, not %" PRId64,
                         DEMO_MAX_CUSTOMERS, customers);
    if (seed_s && (rc = parse_seed(seed_s, &seed)))
        return rc;
    if (!dir[0])
        return cli_usage("demo", "--out needs a directory");

    struct demo_options o = {(uint32_t)customers, seed, dir, cli_progress_wanted()};
    struct demo_stats st;
    struct err e = {0};
    uint64_t start = time_mono_ns();
    if (demo_generate(&o, &st, &e))
        return cli_fail("%s", e.msg);
    double seconds = (double)(time_mono_ns() - start) / 1e9;

    static const char *const headers[] = {"file", "source", "records", "bytes"};
    struct cli_table *t = cli_table_new(ARRAY_SIZE(headers), headers);
    uint64_t records = 0, bytes = 0;
    for (int i = 0; i < DEMO_SOURCE_COUNT; i++) {
        char n[24], b[24];
        snprintf(n, sizeof(n), "%" PRIu64, st.records[i]);
        snprintf(b, sizeof(b), "%" PRIu64, st.bytes[i]);
        const char *row[] = {demo_source_file((enum demo_source)i),
                             demo_source_name((enum demo_source)i), n, b};
        cli_table_add(t, row);
        records += st.records[i];
        bytes += st.bytes[i];
    }
    cli_table_print(t, stdout, FORMAT_TABLE);
    cli_table_free(t);
    printf("\n%" PRIu64 " records (%.1f a customer, %.1f MB) for %" PRIu64
           " persons in %s in %.1f s; ground truth: %" PRIu64 " rows.\n"
           "See %s/README.md for the import commands.\n",
           records, (double)records / (double)customers, (double)bytes / 1e6, st.persons, dir,
           seconds, st.truth_rows, dir);
    if (load) {
        printf("\nloading into %s:\n", cfg.db);
        fflush(stdout);
        return demo_load(dir);
    }
    return EXIT_OK;
}
