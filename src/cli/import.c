/* import.c - `custos import`: load channel exports. */
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/timeutil.h"
#include "identity/incremental.h"
#include "import/import.h"

/* Resolution after each commit of the import: failures stop resolving, not the
 * import (its rows stay, for the next custos resolve). */
struct import_resolve {
    struct store *st;
    struct incremental *inc;
    int rc;
    struct err e;
};

static void resolve_committed(void *arg)
{
    struct import_resolve *r = arg;
    if (!r->rc)
        r->rc = incremental_step(r->inc, 0, NULL, &r->e);
}

int cmd_import(int argc, char **argv)
{
    const char *source = NULL, *mapping_path = NULL, *encoding = NULL, *rejects_path = NULL;
    const char *files[1024];
    bool json = false, quiet = false, no_resolve = false;
    size_t nfiles;
    const struct cli_opt opts[] = {{"source", &source, NULL},
                                   {"mapping", &mapping_path, NULL},
                                   {"encoding", &encoding, NULL},
                                   {"rejects", &rejects_path, NULL},
                                   {"json", NULL, &json},
                                   {"quiet", NULL, &quiet},
                                   {"no-resolve", NULL, &no_resolve}};
    int rc =
        cli_parse("import", argc, argv, opts, ARRAY_SIZE(opts), files, ARRAY_SIZE(files), &nfiles);
    if (rc)
        return rc;
    if (!source || !mapping_path || nfiles == 0)
        return cli_usage("import", "give --source NAME, --mapping FILE and at least one FILE");
    struct err e = {0};
    struct mapping *m = NULL;
    if (mapping_load(mapping_path, &m, &e))
        return cli_fail("%s", e.msg);
    if (encoding && csv_encoding_parse(encoding, &m->encoding)) {
        mapping_free(m);
        return cli_usage("import", "--encoding must be utf-8, gbk or gb18030, not \"%s\"",
                         encoding);
    }
    char default_rejects[4096];
    if (!rejects_path) {
        snprintf(default_rejects, sizeof(default_rejects), "%s.rejects.csv",
                 strcmp(files[0], "-") == 0 ? "stdin" : files[0]);
        rejects_path = default_rejects;
    }
    FILE *rejects = fopen(rejects_path, "w");
    if (!rejects) {
        mapping_free(m);
        return cli_fail("cannot write the reject file %s: %s", rejects_path, strerror(errno));
    }
    struct importer *im = NULL;
    struct import_stats stats = {0};
    struct idgraph_rules rules = {0};
    struct import_resolve res = {0};
    bool resolving = !no_resolve && strcmp(cfg.resolve_incremental, "on") == 0;
    uint64_t start = time_mono_ns();
    struct store *kst = NULL; /* with encryption on, the keys before a value is read */
    if ((rc = cli_open_store(&kst))) {
        fclose(rejects);
        remove(rejects_path);
        mapping_free(m);
        return rc;
    }
    store_close(kst);
    rc = importer_new(cfg.db, source, m, rejects, !quiet && cli_progress_wanted(), &im, &e);
    if (!rc && resolving) {
        struct store_options sopt = {.synchronous_full = false};
        rc = idgraph_rules_parse(cfg.identity_types, cfg.identity_blocked, &rules, &e);
        if (!rc)
            rc = store_open(cfg.db, &sopt, &res.st, &e);
        if (!rc)
            rc = incremental_new(res.st, &rules, &res.inc, &e);
        if (!rc)
            importer_on_commit(im, resolve_committed, &res);
    }
    for (size_t i = 0; !rc && i < nfiles; i++)
        rc = importer_file(im, files[i], &stats, &e);
    importer_free(im);
    struct incremental_stats rs = {0};
    if (res.inc) {
        resolve_committed(&res); /* what the last commit left, if anything */
        incremental_get_stats(res.inc, &rs);
    }
    incremental_free(res.inc);
    store_close(res.st);
    idgraph_rules_release(&rules);
    uint64_t resolved = rs.records + rs.events;
    double secs = (double)(time_mono_ns() - start) / 1e9;
    bool wrote_rejects = ftell(rejects) > 0 && stats.rejected > 0;
    fclose(rejects);
    if (!wrote_rejects)
        remove(rejects_path);
    mapping_free(m);
    if (json)
        printf("{\"read\":%" PRIu64 ",\"loaded\":%" PRIu64 ",\"unchanged\":%" PRIu64
               ",\"replaced\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"suppressed\":%" PRIu64
               ",\"seconds\":%.3f,"
               "\"rows_per_s\":%.0f,\"rejects_file\":%s%s%s,\"resolved\":",
               stats.read, stats.loaded, stats.unchanged, stats.replaced, stats.rejected,
               stats.suppressed, secs, secs > 0 ? (double)stats.read / secs : 0.0,
               wrote_rejects ? "\"" : "", wrote_rejects ? rejects_path : "null",
               wrote_rejects ? "\"" : "");
    if (json && !res.inc)
        puts("null}");
    else if (json)
        printf("{\"rows\":%" PRIu64 ",\"joined\":%" PRIu64 ",\"created\":%" PRIu64
               ",\"in_new\":%" PRIu64 ",\"unresolved\":%" PRIu64 ",\"merges\":%" PRIu64 "}}\n",
               resolved, rs.joined, rs.created, rs.in_new, rs.unresolved, rs.merges);
    else
        printf("read %" PRIu64 ", loaded %" PRIu64 ", unchanged %" PRIu64 ", replaced %" PRIu64
               ", rejected %" PRIu64 " in %.2f s (%.0f rows/s)%s%s\n",
               stats.read, stats.loaded, stats.unchanged, stats.replaced, stats.rejected, secs,
               secs > 0 ? (double)stats.read / secs : 0.0,
               wrote_rejects ? "; rejected rows and why: " : "", wrote_rejects ? rejects_path : "");
    if (!json && res.inc)
        printf("resolved %" PRIu64 " rows: %" PRIu64 " joined existing profiles, %" PRIu64
               " went into %" PRIu64 " new profiles, %" PRIu64 " without any identifier; %" PRIu64
               " profiles merged\n",
               resolved, rs.joined, rs.in_new, rs.created, rs.unresolved, rs.merges);
    if (!json && stats.suppressed)
        printf("skipped %" PRIu64 " rows of erased people (the suppression list)\n",
               stats.suppressed);
    if (rc)
        return cli_fail("%s", e.msg);
    if (res.rc)
        return cli_fail("the rows are loaded, but resolving them failed: %s", res.e.msg);
    return EXIT_OK;
}
