/* import.h - loading channel exports into the store.
 *
 * A CSV file is read row by row (csv.h), every row mapped (mapping.h) into a record
 * with its provenance (source, file, record key, line), its identifiers and traits,
 * and for orders and order lines their own rows. A row that cannot be mapped is
 * skipped whole and written to the reject file with its line, column and reason.
 * Import is idempotent on (source, record key): a row seen before with the same
 * content is "unchanged", with other content it replaces the earlier one.
 * A JSON Lines file holds Segment messages, stored as if posted to /v1/batch
 * (checked, deduplicated on messageId, quarantined when they fail). */
#ifndef CUSTOS_IMPORT_H
#define CUSTOS_IMPORT_H

#include "import/mapping.h"
#include "store/store.h"

#define IMPORT_COMMIT_ROWS 100000 /* rows per transaction */

struct import_stats {
    uint64_t read, loaded, unchanged, replaced, rejected;
    uint64_t suppressed; /* rows of erased people, skipped (privacy/dsr.h) */
    uint64_t bytes;
};

struct importer;

/* Prepares to import into the source called source_name of the database at db with
 * mapping m (which outlives the importer): loads the source's record keys (CSV) or
 * its dedup set (JSON Lines). rejects (may be NULL) receives the reject CSV:
 * file,line,record_key,column,reason. progress: progress lines on stderr. */
int importer_new(const char *db, const char *source_name, const struct mapping *m, FILE *rejects,
                 bool progress, struct importer **out, struct err *e);

/* Imports one file; adds to *stats. Returns 0, or an error that stopped the file (it
 * could not be read, its header does not fit the mapping, the store failed); rows
 * committed before the error stay. */
int importer_file(struct importer *im, const char *path, struct import_stats *stats, struct err *e);

/* Has the importer call fn(arg) after each commit of rows it loaded (for incremental
 * resolution: `custos import` resolves what it loads as it goes). A CSV import calls it
 * on its store thread, between two of its transactions: fn must use its own store
 * connection and nothing of the caller's thread. */
void importer_on_commit(struct importer *im, void (*fn)(void *arg), void *arg);

void importer_free(struct importer *im);

#endif
