/* retention.h - how long each category of data is kept (issue 6), and the privacy
 * jobs custos serve runs on a schedule.
 *
 * The retention setting is "CATEGORY:AGE,..." with CATEGORY one of events (by event
 * timestamp), quarantine (by arrival), records (by the record's time, else its import
 * time; with their order lines and orders) and consents (by decision time), and AGE a
 * whole number with a unit: d, h, m or s ("365d"). A category not named is kept for
 * ever. A sweep deletes, per category, the rows older than now minus its age. */
#ifndef CUSTOS_PRIVACY_RETENTION_H
#define CUSTOS_PRIVACY_RETENTION_H

#include "core/common.h"
#include "store/store.h"

#define RETENTION_CATEGORIES 4

struct retention_rule {
    const char *category; /* static: "events", "quarantine", "records", "consents" */
    int64_t max_age_ms;
};

/* Parses a retention setting into rules (at most RETENTION_CATEGORIES; a category
 * named twice keeps the last age). ERR_INVALID with the entry at fault. */
int retention_parse(const char *spec, struct retention_rule out[RETENTION_CATEGORIES], size_t *n,
                    struct err *e);

struct retention_result {
    const char *category;
    int64_t max_age_ms, cutoff, rows; /* rows older than cutoff: deleted unless dry run */
};

/* Sweeps st under spec at time now: one transaction, then a WAL checkpoint. res
 * (capacity RETENTION_CATEGORIES) gets a line per rule, *n how many. Audited when
 * something was deleted. */
int retention_sweep(struct store *st, const char *spec, int64_t now, bool dry_run,
                    struct retention_result res[RETENTION_CATEGORIES], size_t *n, struct err *e);

/* ---- the scheduled jobs of custos serve ---- */

struct suppression;
struct privacy_jobs;

/* Starts a thread with its own connection to db that, until privacy_jobs_stop: every
 * second reloads supp (when not NULL) if the suppression list changed; every
 * consent-sync-interval seconds reads new messages for consents; every
 * retention-interval seconds sweeps under the retention setting (when set). */
int privacy_jobs_start(const char *db, struct suppression *supp, struct privacy_jobs **out,
                       struct err *e);

/* Wakes the thread, waits for the job in progress to end, closes its connection. */
void privacy_jobs_stop(struct privacy_jobs *j);

#endif
