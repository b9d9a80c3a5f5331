/* main.c - argv to one command table, nothing else (git's git.c idea).
 * The table drives dispatch, `custos --help`, `custos VERB --help` and docs/cli.md. */
#include <sodium.h>
#include <sqlite3.h>

#include "analytics/analytics.h"
#include "cli/cli.h"
#include "core/arena.h"
#include "core/config.h"
#include "privacy/classify.h"
#include "privacy/dp.h"
#include "privacy/policy.h"
#include "privacy/consent.h"
#include "privacy/retention.h"
#include "core/log.h"

#define CUSTOS_VERSION "0.1.0"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *help; /* usage and options; settings flags are appended */
};

static const struct command commands[] = {
    {"serve", cmd_serve, "run the HTTP server: collection API, health, metrics",
     "usage: custos serve [--ready-file FILE]\n"
     "\n"
     "Serves the Segment-compatible collection API (POST /v1/identify, track, page,\n"
     "screen, group, alias, batch, import), the profile API (GET /api/v1/profiles/ID and\n"
     "?email=|phone=|userId=|memberCard=, with an API key from custos keys add), the\n"
     "consent API (POST /api/v1/consent with an admin key, GET ?profileId=N), GET\n"
     "/healthz and GET /metrics on --listen. With the settings tls-cert and tls-key\n"
     "(PEM files) it speaks HTTPS only. Profiles are read from memory, refreshed within\n"
     "a second of a custos resolve (setting profile-cache), masked by the API key's role;\n"
     "clear reads of sensitive data are audited (docs/privacy.md). Data quality is\n"
     "measured every quality-interval seconds and published on /metrics. A thread\n"
     "reloads the suppression list of erased people, reads consents from new messages\n"
     "and sweeps by the retention setting (docs/privacy.md).\n"
     "A message is answered 200 only once it is on disk. With resolve-incremental = on\n"
     "(the default) a resolver thread puts every new event into its profile within a\n"
     "second of its commit (docs/identity.md); /metrics shows how far behind it is.\n"
     "SIGTERM or SIGINT stops accepting connections, answers the requests in progress,\n"
     "resolves what was committed, then exits.\n"
     "\n"
     "  --ready-file FILE   write HOST:PORT to FILE once the server accepts requests\n"
     "                      (useful with --listen 127.0.0.1:0, which picks a free port)\n"},
    {"sources", cmd_sources, "add and list sources (channels with a write key and a plan)",
     "usage: custos sources add NAME [--plan FILE]\n"
     "       custos sources list [--json | --csv]\n"
     "       custos sources set-plan NAME FILE | --clear\n"
     "\n"
     "add       creates a source and prints its new write key, alone, on stdout. The key\n"
     "          is shown only this once: Custos keeps only its hash.\n"
     "list      shows every source: name, key hint, whether it has a plan, events.\n"
     "set-plan  replaces a source's tracking plan (docs/tracking-plans.md); a running\n"
     "          server applies it within a second. --clear removes it.\n"
     "\n"
     "NAME uses letters, digits, '_', '-' and '.', at most 64 characters.\n"},
    {"keys", cmd_keys, "add, list and revoke API keys for the read API (/api/v1/...)",
     "usage: custos keys add --role ROLE [--name NAME] [--expires DAYS]\n"
     "       custos keys list [--json | --csv]\n"
     "       custos keys revoke ID\n"
     "       custos keys budget ID [--set E | --default] [--reset] [--json | --csv]\n"
     "       custos keys rotate [--json]\n"
     "\n"
     "API keys let programs read profiles over HTTP (GET /api/v1/profiles/ID and\n"
     "GET /api/v1/profiles?email=E, see docs/identity.md), sent as\n"
     "\"Authorization: Bearer KEY\". They are not source write keys: a write key only\n"
     "collects events, an API key only reads.\n"
     "\n"
     "add     creates a key and prints it, alone, on stdout. The key is shown only this\n"
     "        once: Custos keeps only its hash.\n"
     "        --role ROLE     admin, analyst, marketing, service or risk: what the key\n"
     "                        sees of each class of field, clear, masked or hidden\n"
     "                        (docs/privacy.md; the role-policy setting changes it)\n"
     "        --name NAME     a label for people, e.g. the program that uses the key\n"
     "        --expires DAYS  the key stops working DAYS days from now (0: at once);\n"
     "                        without it the key works until revoked\n"
     "list    shows every key: id, name, role, hint (its first characters), created,\n"
     "        expires, revoked. Never the key itself.\n"
     "revoke  stops key ID from working, at once, for good.\n"
     "budget  shows key ID's privacy budget: the epsilon it may spend in all on\n"
     "        differentially private analytics (GET /api/v1/analytics/...?dp_epsilon=E\n"
     "        charges E), what it spent and what remains (docs/privacy.md).\n"
     "        --set E     gives the key a budget of its own (above 0, at most 1000)\n"
     "        --default   back to the dp-budget setting (default 10)\n"
     "        --reset     sets what it spent back to 0 (a new accounting period)\n"
     "        Changes are recorded in the audit log (key.budget).\n"
     "rotate  (encryption at rest, not API keys) makes a new data-key version current and\n"
     "        re-encrypts every stored token under it, in short transactions, while\n"
     "        custos serve keeps running (it follows the new version within a second).\n"
     "        Old versions keep decrypting until none is left. Audited (key.rotate).\n"
     "        Needs the master key (master-key-file or CUSTOS_MASTER_KEY).\n"
     "\n"
     "example:\n"
     "  KEY=$(custos keys add --role analyst --name dashboard)\n"
     "  curl -H \"Authorization: Bearer $KEY\" localhost:8080/api/v1/profiles/42\n"
     "  custos keys budget 3 --set 5 --reset\n"},
    {"events", cmd_events, "print stored events",
     "usage: custos events [--source NAME] [--limit N] [--after ID] [--json | --csv]\n"
     "\n"
     "Prints stored events, oldest first. With --limit N, the newest N.\n"
     "--json prints one stored message per line, as received plus the server's\n"
     "receivedAt, corrected timestamp, messageId and the source's name.\n"
     "\n"
     "  --source NAME   only this source's events\n"
     "  --limit N       at most N events (default 100 for tables, no limit for --json/--csv)\n"
     "  --after ID      only events stored after event ID (for paging)\n"},
    {"quarantine", cmd_quarantine, "list, show and replay messages that failed validation",
     "usage: custos quarantine list [--source NAME] [--limit N] [--json | --csv]\n"
     "       custos quarantine show ID [--json]\n"
     "       custos quarantine replay [--source NAME] [ID...] [--json]\n"
     "\n"
     "Messages that broke the Segment spec or their source's tracking plan are kept\n"
     "raw, with every reason, in the quarantine.\n"
     "list    one line per message: id, source, type, event, time, first reason\n"
     "        (--json: one JSON object per line with the message and all its reasons)\n"
     "show    one message with all its reasons\n"
     "replay  validates the messages again with the current plan (fix the plan with\n"
     "        custos sources set-plan first); those that pass become events and leave\n"
     "        the quarantine; the rest stay. Replaying twice\n"
     "        stores nothing twice.\n"},
    {"import", cmd_import, "load CSV and JSON Lines exports through a mapping file",
     "usage: custos import --source NAME --mapping FILE [--encoding E] [--rejects FILE]\n"
     "                     [--no-resolve] [--json] [--quiet] FILE...\n"
     "\n"
     "Loads channel exports (POS receipts, CRM contacts, marketplace orders, service\n"
     "tickets, reviews) as records of source NAME, as the mapping file says (the format:\n"
     "docs/import.md). JSON Lines files (mapping {\"format\": \"jsonl\"}) hold Segment\n"
     "messages, stored as if posted to /v1/batch. FILE - reads standard input.\n"
     "\n"
     "Every row is stored with its provenance (source, file, record key, line). A bad\n"
     "row is skipped whole and written to the reject file with its line, column and\n"
     "reason; the import goes on. Importing the same file again loads nothing: a row\n"
     "whose record key was seen is unchanged, or replaces the earlier one if corrected.\n"
     "After each commit the new rows are resolved into profiles (incremental resolution,\n"
     "as custos serve does): the summary says how many joined an existing profile and\n"
     "how many profiles were created. A replaced row is not resolved again: run custos\n"
     "resolve for that.\n"
     "\n"
     "  --encoding E    utf-8, gbk or gb18030 (overrides the mapping's)\n"
     "  --rejects FILE  where bad rows go (default FILE.rejects.csv beside the first\n"
     "                  input; removed when no row was rejected)\n"
     "  --no-resolve    load only; profiles change at the next custos resolve (also with\n"
     "                  the setting resolve-incremental = off)\n"
     "  --json          the summary as JSON (read, loaded, unchanged, replaced, rejected,\n"
     "                  resolved: rows, joined, created, unresolved, merges)\n"
     "  --quiet         no progress line (there is none unless stdout\n"
     "                  and stderr are terminals)\n"},
    {"resolve", cmd_resolve, "resolve every record and event into profiles (OneID)",
     "usage: custos resolve [--full] [--map-out FILE] [--exact-baseline] [--json] [--quiet]\n"
     "\n"
     "Links the identifiers of every imported record and every event (user ids,\n"
     "anonymous ids, e-mails, phones, member cards, WeChat ids, device ids, resident\n"
     "ID numbers: standardized first) into profiles, under the rules of the settings\n"
     "identity-types (priority and per-profile limits) and identity-blocked (junk\n"
     "values). Profile ids stay the same from run to run; a profile joined to another\n"
     "redirects to it and the merge is journaled. Every run is a full resolution: it\n"
     "reads everything again (--full says so; custos serve and custos import resolve\n"
     "new rows incrementally, and pick up what this run wrote).\n"
     "\n"
     "  --map-out FILE  write source,record_key,profile_id for every record and event\n"
     "                  (events: their messageId)\n"
     "  --exact-baseline  write the map of a plain exact-match resolution instead (values as\n"
     "                  written, no limits, no blocked values; nothing stored): the baseline\n"
     "                  bench/identity compares with\n"
     "  --json          the summary as one JSON object (with \"matcher\": records compared,\n"
     "                  candidate pairs, links, links refused, pairs queued for review)\n"
     "  --quiet         no progress line (there is none unless stdout and stderr are\n"
     "                  terminals); the summary is still printed\n"
     "\n"
     "After the identifiers, the matcher (setting identity-match, on by default) compares\n"
     "profiles that share no identifier on name, birth date, city and gender: weights are\n"
     "fitted by EM on this store's candidate pairs; a pair whose posterior match\n"
     "probability reaches identity-match-link (per mille, default 990) is linked and\n"
     "journaled as \"probabilistic: score S, fields ...\"; one from identity-match-review\n"
     "(default 500) waits in the review queue (custos review list). A link never breaks\n"
     "the identity-types limits nor a rejected pair or undone merge.\n"
     "Example: custos resolve --identity-match-link 999 --json\n"},
    {"review", cmd_review, "the matcher's review queue: pairs of profiles that may be one person",
     "usage: custos review list [--status pending|accepted|rejected | --all] [--json | --csv]\n"
     "       custos review show ID [--json]\n"
     "       custos review accept ID [--by NAME]\n"
     "       custos review reject ID [--by NAME]\n"
     "\n"
     "custos resolve queues the pairs of profiles whose posterior match probability lies\n"
     "between identity-match-review and identity-match-link. list shows the pending ones\n"
     "(score: sum of log2(m/u); fields: how name, birth date, city and gender compare);\n"
     "show one pair; accept links the two profiles (a must-link kept by every later\n"
     "resolution, then resolves again: the merge is journaled and the larger id\n"
     "redirects); reject records a must-not-link that later resolutions respect. --by\n"
     "names who decided (default: $USER).\n"
     "Example: custos review list; custos review show 3; custos review reject 3 --by ana\n"},
    {"quality", cmd_quality, "data quality per source and field, with alerts",
     "usage: custos quality [--json] [--fail-on-alert] [--metrics-out FILE]\n"
     "\n"
     "Measures, for every source, its events and its imported records:\n"
     "  completeness  the share of rows where a field has a value: every identifier type\n"
     "                and trait seen in the records; userId and anonymousId of events,\n"
     "                and traits.email / traits.phone of identify calls\n"
     "  validity      the share of phone, e-mail and resident ID number values that pass\n"
     "                standardization (placeholders such as 13800000000 and\n"
     "                test@test.com fail)\n"
     "  uniqueness    the duplicate rate before resolution (rows sharing an identifier\n"
     "                value, as written, with another row of the source) and after it\n"
     "                (1 - profiles / resolved rows: run custos resolve first)\n"
     "  freshness     the newest event or record time and its age in hours\n"
     "A measure past its threshold (settings quality-min-completeness, default 50%;\n"
     "quality-min-validity, 90%; quality-max-age-hours, 48; quality-max-duplicate-before\n"
     "and quality-max-duplicate-after, 100%: off) is an alert: listed under\n"
     "ALERTS (--json: \"alerts\") and logged as a warning naming the source, field and\n"
     "measure, never a value. Alerts leave the exit status 0 unless --fail-on-alert.\n"
     "Example: custos quality --quality-min-validity 95 --fail-on-alert\n"
     "\n"
     "  --json             one JSON object: thresholds, sources (with their fields), alerts\n"
     "  --fail-on-alert    exit 1 when there is any alert (for cron and CI)\n"
     "  --metrics-out FILE write the measures and alerts in the Prometheus text format\n"
     "                     (for node_exporter's textfile collector)\n"},
    {"profile", cmd_profile, "the 360-degree view of one profile; undo a merge",
     "usage: custos profile show ID | --email E | --phone P | --user-id U | --member-card C\n"
     "                           [--json]\n"
     "       custos profile unmerge ID [--merge M] [--json]\n"
     "\n"
     "Identifiers, traits, records by source, orders, recent events and merge history.\n"
     "Each trait shows its golden value, the rule that chose it and every candidate\n"
     "value with its source, record, file line and time. The rules are the setting\n"
     "survivorship, TRAIT:RULE separated by commas, RULE one of most_recent,\n"
     "most_frequent, source_priority(SOURCE,...); * names every other trait:\n"
     "  --survivorship 'name:source_priority(crm,pos,web),city:most_frequent,*:most_recent'\n"
     "A merged profile id answers with the profile it joined. Phones and e-mails are\n"
     "standardized before the lookup (138 0013 8000 finds +8613800138000).\n"
     "Values are shown as the cli-role setting's role sees them (default admin: clear,\n"
     "and each such read is written to the audit log; docs/privacy.md).\n"
     "\n"
     "custos profile unmerge ID [--merge M] [--json] undoes a merge from the profile's merge\n"
     "history: the latest merge that took profile ID away (else the latest into it), or\n"
     "merge M. It records a must-not-link between the two profiles, resolves again and\n"
     "journals the unmerge; the split profile answers under its old id again, and later\n"
     "resolutions keep the two apart.\n"},
    {"analyze", cmd_analyze, "KPI trends, RFM, funnels, cohorts and paths per profile",
     "usage: custos analyze kpi [--period day|week|month|quarter] [--by source|channel|store]\n"
     "                          [--from DATE] [--to DATE]\n"
     "       custos analyze rfm [--as-of DATE] [--window DAYS] [--profiles] [--save]\n"
     "       custos analyze funnel STEP STEP... [--window DAYS] [--by PROPERTY]\n"
     "       custos analyze cohort [--period week|month] [--by first-order|first-seen]\n"
     "                             [--measure customers|revenue|retention]\n"
     "       custos analyze paths --from EVENT | --to EVENT [--depth K] [--limit N]\n"
     "       every one: [--json | --csv]; kpi, rfm, funnel, cohort: [--dp-epsilon E]\n"
     "\n"
     "Runs on an in-memory, columnar snapshot of the store's orders and events, each\n"
     "belonging to a resolved profile (run custos resolve first). Days, weeks, months\n"
     "and quarters are those of the analytics-time-zone setting (default UTC; e.g.\n"
     "--analytics-time-zone +08:00), as are dates given without a zone; amounts are\n"
     "integer minor units (fen, cents). Definitions: docs/analytics.md.\n"
     "\n"
     "kpi     per period (default month): customers seen so far, active (an event or\n"
     "        an order), buyers, new and returning buyers, orders, revenue, average\n"
     "        order value, repurchase rate (buyers with 2+ orders in the period), and\n"
     "        the change from the period before. --by breaks it down.\n"
     "rfm     recency, frequency and monetary scores 1-5 (quintiles) of every profile\n"
     "        with an order in the --window days (default 365, 0: all) before --as-of\n"
     "        (default: the day after the last order), and the named segments\n"
     "        (Champions ... Lost) with their size and revenue share. --profiles prints\n"
     "        one row per profile instead. --save keeps each profile's scores as\n"
     "        computed traits (rfm_segment, rfm_r, rfm_f, rfm_m, rfm_score).\n"
     "funnel  ordered steps: event names, each optionally filtered on properties of\n"
     "        its event: 'Order Completed[source=app]', '[campaign=NAME]' (context.\n"
     "        campaign.name), or any top-level key of properties, several at once:\n"
     "        'Product Viewed[category=母婴,price=89]' (numbers match in any spelling;\n"
     "        KEY= with no value: events without it). A profile enters at its first\n"
     "        step-1 event and must do each next step later, within --window days\n"
     "        (default 7) of entering. Counts, conversion and median time per step;\n"
     "        --by source|channel|campaign|KEY|properties.KEY breaks it down by that\n"
     "        property of the step-1 event.\n"
     "cohort  profiles by the month (or week) of their first order (or first event or\n"
     "        order, --by first-seen), and how many of each cohort ordered (or their\n"
     "        revenue, or the retention %) in each later period: +0, +1, ...\n"
     "paths   the most frequent sequences of --depth events (default 3) after (--from)\n"
     "        or before (--to) each profile's first occurrence of EVENT.\n"
     "\n"
     "--dp-epsilon E  a differentially private answer (0.001 <= E <= 10): every count\n"
     "        and sum gets Laplace noise, E split evenly over the answer's cells (a cell:\n"
     "        one count or sum), so fewer rows cost less noise. Counts of customers have\n"
     "        sensitivity 1; orders count at most dp-max-orders (default 10) per customer\n"
     "        and cell; money is clamped per customer and cell to dp-clamp (LO:HI minor\n"
     "        units, default 0:100000). Rates come from the noisy values; funnel medians\n"
     "        are withheld. stderr (or \"dp\" in --json) says epsilon and the noise scale.\n"
     "\n"
     "examples:\n"
     "  custos analyze kpi --period quarter --by channel\n"
     "  custos analyze rfm --as-of 2026-01-01 --window 365\n"
     "  custos analyze funnel 'Product Viewed' 'Product Added' 'Checkout Started' \\\n"
     "                        'Order Completed' --by campaign --csv\n"
     "  custos analyze funnel 'Product Viewed[category=母婴]' 'Order Completed' --by channel\n"
     "  custos analyze cohort --measure retention\n"
     "  custos analyze kpi --period quarter --dp-epsilon 1 --dp-clamp 0:500000\n"},
    {"segment", cmd_segment, "segments in the segment language, with who entered and left",
     "usage: custos segment create NAME 'EXPRESSION' [--as-of DATE]\n"
     "       custos segment list [--json | --csv]\n"
     "       custos segment show NAME [--json]\n"
     "       custos segment members NAME [--all] [--json | --csv]\n"
     "       custos segment export NAME --purpose P [--out FILE] [--as-of DATE]\n"
     "       custos segment refresh [--as-of DATE]\n"
     "       custos segment delete NAME\n"
     "\n"
     "A segment is the profiles an expression is true for, kept current: every command\n"
     "(and custos serve, every --segment-refresh-ms) evaluates all segments again on the\n"
     "latest data and records who entered and who left, and when. The language\n"
     "(docs/segments.md):\n"
     "  traits.city = \"上海\"                   a profile trait (the newest value)\n"
     "  orders.count(last 90d) >= 3          orders in a window (d, w, m, y; or all)\n"
     "  orders.revenue(last 1y, channel = \"tmall\") > 100000   amount, minor units\n"
     "  orders.count(last 180d, category = \"母婴\") >= 2\n"
     "  events.count(\"Product Viewed\", last 7d) > 0\n"
     "  rfm.segment in (\"At Risk\", \"Can't Lose Them\")   also rfm.r, f, m, recency ...\n"
     "  tags contains \"mother_baby\"          tags.mother_baby (the setting tags)\n"
     "combined with and, or, not, parentheses; comparisons = != < <= > >=, in (...),\n"
     "contains. A syntax error points at its column. Windows end now, or at --as-of.\n"
     "Tags of the setting tags are kept as segments named tag:NAME.\n"
     "\n"
     "members  the profiles in it now, since when (--all: every stay, with exits)\n"
     "export   the members that may be used for purpose P (analytics, marketing,\n"
     "         personalization, third_party) as CSV, for use outside Custos: profiles\n"
     "         without that consent (custos privacy consent; undecided ones follow the\n"
     "         consent-default setting, denied unless changed) are left out and counted on\n"
     "         stderr; every export is written to the audit log.\n"
     "example:\n"
     "  custos segment create vip 'orders.count(last 90d) >= 3 and traits.city = \"上海\"'\n"},
    {"demo", cmd_demo, "write a demo retail world to import: CSV, JSON Lines, mappings, truth",
     "usage: custos demo [--customers N] [--seed S] [--out DIR] [--load]\n"
     "\n"
     "Writes two years (2024-2025) of a Chinese omnichannel retailer into DIR: store\n"
     "receipts (GBK), CRM contacts, Tmall/JD orders, service tickets, reviews (CSV, each\n"
     "with a mapping file for custos import), web, app and mini-program events (Segment\n"
     "messages, JSON Lines), ground_truth.csv (the person behind every record) and a\n"
     "README with the import commands. The same N and S give the same bytes.\n"
     "\n"
     "  --customers N   customers in the world, 1 to 10000000 (default 10000); about 50\n"
     "                  records each\n"
     "  --seed S        any number from 0 to 2^64-1 (default 1)\n"
     "  --out DIR       the directory to write, created if missing (default ./demo)\n"
     "  --load          then load it into the store (--db): creates the sources pos, crm,\n"
     "                  marketplace, service, reviews, web, app, miniprogram (write keys in\n"
     "                  DIR/SOURCE.key) and imports every file with its mapping; loading\n"
     "                  again changes nothing\n"},
    {"audit", cmd_audit, "list and verify the hash-chained audit log",
     "usage: custos audit list [--since TIME] [--action A] [--after SEQ] [--limit N]\n"
     "                         [--json | --csv]\n"
     "       custos audit verify [--json]\n"
     "\n"
     "Every clear read of sensitive data, every export, every change of a key, role,\n"
     "plan or consent, and every erasure is appended to the audit log; each entry holds\n"
     "the hash of the one before (docs/privacy.md, \"Audit\"). Entries name who acted\n"
     "(cli, key:HINT), what (read.clear, key.add, plan.change, erase, ...) and on what\n"
     "(profile:42, key:7, source:web): ids, never personal data.\n"
     "\n"
     "list    the entries, oldest first: seq, time, actor, action, subject, detail\n"
     "        --since TIME  only entries at or after TIME (2026-11-23 or an ISO 8601 time)\n"
     "        --action A    only action A (read.clear), or every action of an area (key.)\n"
     "        --after SEQ   only entries after seq SEQ (for paging)\n"
     "        --limit N     at most N entries\n"
     "verify  recomputes the chain and compares its end with the head file kept beside\n"
     "        the database (DB.audit-head); exits 1 naming the first entry that was\n"
     "        edited, inserted or removed. Someone who can write both the database and\n"
     "        the head file can rewrite the log undetected: keep copies of the head\n"
     "        elsewhere (custos audit verify --json prints last_seq and last_hash).\n"
     "\n"
     "example: custos audit list --since 2026-11-01 --action read.clear --csv > reads.csv\n"},
    {"privacy", cmd_privacy, "data-subject export and erasure, consent, retention",
     "usage: custos privacy export --profile ID [--out FILE]\n"
     "       custos privacy erase --profile ID [--yes] [--no-vacuum] [--json]\n"
     "       custos privacy consent set --profile ID --purpose P --status granted|denied\n"
     "                              [--source S] [--policy-version V] [--evidence JSON]\n"
     "       custos privacy consent show --profile ID [--history] [--json | --csv]\n"
     "       custos privacy consent sync\n"
     "       custos privacy sweep [--dry-run] [--json | --csv]\n"
     "\n"
     "export   writes everything held about the person behind profile ID, as readable\n"
     "         JSON: profiles (merged ids followed), identifiers, records with their\n"
     "         traits and provenance, orders, order lines, events as received, consents,\n"
     "         merges, and quarantined or not yet resolved messages carrying their\n"
     "         identifiers. To stdout, or to --out FILE.\n"
     "erase    deletes all of that, everywhere, and keeps only keyed blind indexes of the\n"
     "         person's identifiers in a suppression list: later messages carrying one are\n"
     "         dropped (kept in the quarantine as an empty message, reason \"suppressed\"),\n"
     "         import skips such rows, resolve links none. Then the bytes leave the file:\n"
     "         secure_delete, WAL checkpoint (TRUNCATE) and VACUUM (which rewrites the whole\n"
     "         database: seconds per GB; --no-vacuum skips it, leaving freed pages zeroed\n"
     "         but in place). Cannot be undone: asks for the id on a terminal, else needs\n"
     "         --yes.\n"
     "consent  set: records a decision for one purpose (analytics, marketing,\n"
     "         personalization, third_party) with its source, policy version and evidence.\n"
     "         show: the decision in force per purpose (--history: every decision, from\n"
     "         the CLI and from messages). sync: reads stored messages for consent\n"
     "         (context.consent.categoryPreferences, \"Consent Updated\" events); show and\n"
     "         custos serve (setting consent-sync-interval) do it too.\n"
     "sweep    deletes what is older than the retention setting allows, per category,\n"
     "         and prints the counts (--dry-run: counts only). custos serve sweeps every\n"
     "         retention-interval seconds.\n"
     "\n"
     "examples:\n"
     "  custos privacy export --profile 42 --out person-42.json\n"
     "  custos privacy erase --profile 42 --yes\n"
     "  custos privacy consent set --profile 42 --purpose marketing --status denied \\\n"
     "      --source call-center --policy-version 2025-01\n"
     "  custos privacy sweep --retention events:365d,quarantine:30d --dry-run\n"},
    {"config", cmd_config, "show the settings in force and where each came from",
     "usage: custos config show [--json | --markdown]\n"
     "\n"
     "--markdown prints the table of docs/configuration.md.\n"
     "Every setting can be set in custos.conf (\"name = value\"), in the environment\n"
     "(CUSTOS_NAME, e.g. CUSTOS_DB) or as a flag (--name VALUE); a flag wins over the\n"
     "environment, which wins over the file, which wins over the default.\n"},
    {"version", cmd_version, "print the version", "usage: custos version\n"},
};

static void print_overview(FILE *out)
{
    fprintf(out,
            "custos %s - a customer data platform\n\n"
            "usage: custos VERB [options]   (custos VERB --help for more)\n\n",
            CUSTOS_VERSION);
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nExit status: 0 success, 1 failure (reason on stderr), 2 bad usage.\n"
                 "Documentation: README.md and docs/.\n");
}

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("custos %s (SQLite %s, libsodium %s)\n", CUSTOS_VERSION, sqlite3_libversion(),
           sodium_version_string());
    return EXIT_OK;
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0) {
            for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                if (strcmp(commands[i].name, argv[2]) == 0) {
                    fputs(commands[i].help, stdout);
                    return EXIT_OK;
                }
        }
        print_overview(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(argc, argv);

    const struct command *cmd = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        if (strcmp(commands[i].name, argv[1]) == 0)
            cmd = &commands[i];
    if (!cmd) {
        fprintf(stderr, "custos: unknown verb \"%s\"\n\n", argv[1]);
        print_overview(stderr);
        return EXIT_USAGE;
    }
    int vargc = argc - 1;
    char **vargv = argv + 1;
    if (wants_help(vargc, vargv)) {
        fputs(cmd->help, stdout);
        fputc('\n', stdout);
        config_print_flags(stdout);
        return EXIT_OK;
    }
    if (sodium_init() < 0)
        return cli_fail("libsodium could not initialise");
    json_arena_install();
    struct err e = {0};
    int rc = config_load(&vargc, vargv, &e);
    if (rc == 0)
        rc = classify_check(cfg.classification, &e);
    if (rc == 0)
        rc = policy_check(cfg.role_policy, &e);
    double budget;
    if (rc == 0)
        rc = dp_budget_parse(cfg.dp_budget, &budget, &e);
    struct dp_clamp clamp;
    struct err ce = {0};
    if (rc == 0 && (rc = dp_clamp_parse(cfg.dp_clamp, &clamp, &ce)))
        err_set(&e, rc, "dp-clamp: %s", ce.msg);
    int64_t tz;
    if (rc == 0 && (rc = analytics_tz_parse(cfg.analytics_time_zone, &tz)))
        err_set(&e, rc, "analytics-time-zone is UTC or an offset such as +08:00, not \"%.40s\"",
                cfg.analytics_time_zone);
    if (rc == 0)
        rc = consent_check_setting(cfg.consent_categories, &e);
    if (rc == 0) {
        struct retention_rule rules[RETENTION_CATEGORIES];
        size_t nrules;
        rc = retention_parse(cfg.retention, rules, &nrules, &e);
    }
    if (rc) {
        fprintf(stderr, "custos: %s\n", e.msg);
        config_release();
        return rc == ERR_USAGE || rc == ERR_INVALID ? EXIT_USAGE : EXIT_FAIL;
    }
    log_set_level_name(cfg.log_level);
    rc = cmd->run(vargc, vargv);
    config_release();
    return rc;
}
