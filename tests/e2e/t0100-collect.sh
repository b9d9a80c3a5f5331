#!/usr/bin/env bash
# t0100-collect: the collection API on the happy path, read back with the CLI.
#
# Every call type by its own endpoint, Basic auth with and without the trailing colon,
# writeKey in the body, gzip, /v1/batch and /v1/import; then `custos events --json`
# must hold each message exactly once, as sent, with what the server adds (receivedAt,
# messageId, corrected timestamp, source). Also: clock-skew correction, deduplication on
# (source, messageId) across requests and restarts, ?strict=1, --limit, /healthz,
# /metrics and `custos sources list`.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3 # the system Python starts fastest; any python3 will do
[ -x "$PY" ] || PY=python3

# send KEY PATH BODY [curl args...]: POSTs like post() and sets ST (status), BODY (answer).
send() { local out; out=$(post "$@"); ST=${out%% *}; BODY=${out#* }; }
# jf EXPR [JSON]: the Python expression EXPR on the parsed JSON d (default: $BODY).
jf() {
    printf '%s' "${2-$BODY}" | "$PY" -c '
import json, sys
try:
    d = json.loads(sys.stdin.read()); r = eval(sys.argv[1])
except Exception as e:
    r = "<%s: %s>" % (type(e).__name__, e)
print(r if isinstance(r, str) else json.dumps(r))' "$1"
}
# metric NAME{LABELS}: its value in $WORK/metrics ("" when absent).
metric() { grep -F "$1 " "$WORK/metrics" | head -n 1 | awk '{print $NF}'; }

SENT=0 # messages answered as accepted, for the metrics check

# Sources: `sources add` prints the write key alone, 32 letters and digits.
KEY=$("$CUSTOS" sources add web 2>"$WORK/cli.err")
check_eq "custos sources add web exits 0" 0 $?
check_match "the write key is 32 alphanumerics, alone on stdout" '^[A-Za-z0-9]{32}$' "$KEY"
KEY2=$("$CUSTOS" sources add app 2>>"$WORK/cli.err")
check_match "a second source gets its own key" '^[A-Za-z0-9]{32}$' "$KEY2"
check "the two keys differ" [ "$KEY" != "$KEY2" ]

start_server || { not_ok "the server starts"; finish; exit 1; }

# Each call type on its endpoint, with the fields it requires: 200 {"success":true}.
declare -A CALL=(
    [identify]='{"userId":"u-identify","traits":{"name":"Ann","city":"上海"}}'
    [track]='{"userId":"u-track","event":"Order Completed","properties":{"total":199.5}}'
    [page]='{"userId":"u-page","name":"Home"}'
    [screen]='{"anonymousId":"a-screen","name":"Main"}'
    [group]='{"userId":"u-group","groupId":"g-1"}'
    [alias]='{"userId":"u-alias","previousId":"anon-1"}'
)
for t in identify track page screen group alias; do
    send "$KEY" "/v1/$t" "${CALL[$t]}"
    check_eq "POST /v1/$t answers 200 {\"success\":true}" '200 {"success":true}' "$ST $BODY"
    SENT=$((SENT + 1))
done

# Basic auth: the key as user name, with or without the colon, a password ignored.
code=$(curl -s -o "$WORK/resp" -w '%{http_code}' -H "Authorization: Basic $(printf '%s' "$KEY" | base64 -w0)" \
    --data-binary '{"userId":"u-nocolon","event":"Auth No Colon"}' "$BASE/v1/track")
check_eq "Basic auth without the trailing colon is accepted" "200 {\"success\":true}" "$code $(cat "$WORK/resp")"
SENT=$((SENT + 1))
code=$(curl -s -o "$WORK/resp" -w '%{http_code}' -u "$KEY:ignored" \
    --data-binary '{"userId":"u-password","event":"Auth Password"}' "$BASE/v1/track")
check_eq "Basic auth with a password after the colon is accepted" 200 "$code"
SENT=$((SENT + 1))

# The write key in the body instead of Authorization.
code=$(curl -s -o "$WORK/resp" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "{\"writeKey\":\"$KEY\",\"userId\":\"u-bodykey\",\"event\":\"Body Key\"}" "$BASE/v1/track")
check_eq "writeKey in the body is accepted" "200 {\"success\":true}" "$code $(cat "$WORK/resp")"
SENT=$((SENT + 1))

# A gzip body (Content-Encoding: gzip).
printf '%s' '{"userId":"u-gzip","event":"Gzipped","properties":{"city":"北京"}}' | gzip -c >"$WORK/body.gz"
code=$(curl -s -o "$WORK/resp" -w '%{http_code}' -u "$KEY:" -H 'Content-Encoding: gzip' \
    -H 'Content-Type: application/json' --data-binary @"$WORK/body.gz" "$BASE/v1/track")
check_eq "a gzip body is accepted" "200 {\"success\":true}" "$code $(cat "$WORK/resp")"
SENT=$((SENT + 1))

# /v1/batch with all six types, and /v1/import.
send "$KEY" /v1/batch '{"batch":[
 {"type":"identify","userId":"u-b1","messageId":"b-1","traits":{"plan":"pro"}},
 {"type":"track","userId":"u-b2","messageId":"b-2","event":"Batch Track"},
 {"type":"page","userId":"u-b3","messageId":"b-3","name":"Batch Page"},
 {"type":"screen","userId":"u-b4","messageId":"b-4","name":"Batch Screen"},
 {"type":"group","userId":"u-b5","messageId":"b-5","groupId":"g-5"},
 {"type":"alias","userId":"u-b6","messageId":"b-6","previousId":"anon-6"}]}'
check_eq "/v1/batch with the six types answers 200" 200 "$ST"
check_eq "/v1/batch accepted 6, quarantined 0" "6 0" "$(jf '"%s %s" % (d["accepted"], d["quarantined"])')"
SENT=$((SENT + 6))
send "$KEY" /v1/import '{"batch":[{"type":"track","userId":"u-i1","messageId":"i-1","event":"Imported"},
 {"type":"identify","userId":"u-i2","messageId":"i-2"}]}'
check_eq "/v1/import answers 200 with accepted 2" "200 2" "$ST $(jf 'd["accepted"]')"
SENT=$((SENT + 2))

# Metrics so far: accepted counts exactly the messages sent; a latency histogram.
curl -s -o "$WORK/metrics" -w '%{http_code}' "$BASE/metrics" >"$WORK/code"
check_eq "GET /metrics answers 200" 200 "$(cat "$WORK/code")"
check_eq "custos_messages_total{outcome=\"accepted\"} = $SENT messages sent" "$SENT" \
    "$(metric 'custos_messages_total{outcome="accepted"}')"
check_eq "custos_messages_total{outcome=\"quarantined\"} = 0" 0 "$(metric 'custos_messages_total{outcome="quarantined"}')"
check "custos_http_request_duration_seconds is a histogram" \
    grep -q '^# TYPE custos_http_request_duration_seconds histogram$' "$WORK/metrics"
inf=$(grep '^custos_http_request_duration_seconds_bucket{.*le="+Inf"}' "$WORK/metrics" | awk '{print $NF}')
cnt=$(grep '^custos_http_request_duration_seconds_count' "$WORK/metrics" | awk '{print $NF}')
check "the histogram's +Inf bucket counts the 12 requests so far ($inf)" [ "${inf:-0}" -ge 12 ]
check_eq "the histogram's _count equals its +Inf bucket" "$inf" "$cnt"
check "the histogram has a _sum" grep -qE '^custos_http_request_duration_seconds_sum(\{\})? [0-9.]+$' "$WORK/metrics"

# Clock skew: timestamp T, sentAt T+5 s -> stored timestamp = receivedAt - 5 s, and
# originalTimestamp = T. A batch's own sentAt (T+10 s) applies to its messages.
send "$KEY" /v1/track '{"userId":"u-skew","event":"Skewed","messageId":"skew-1",
 "timestamp":"2020-01-01T00:00:00.000Z","sentAt":"2020-01-01T00:00:05.000Z"}'
check_eq "a message with timestamp and sentAt is accepted" 200 "$ST"
send "$KEY" /v1/batch '{"sentAt":"2020-01-01T00:00:10.000Z","batch":[{"type":"track",
 "userId":"u-skew2","event":"Skewed Batch","messageId":"skew-2","timestamp":"2020-01-01T00:00:00Z"}]}'
check_eq "a batch with its own sentAt is accepted" "200 1" "$ST $(jf 'd["accepted"]')"
SENT=$((SENT + 2))

# Deduplication: the same messageId twice on one source is answered 200 and stored
# once; the same messageId on another source is that source's own message.
DUPS=0
for i in 1 2; do
    send "$KEY" /v1/track '{"userId":"u-dup","event":"Dup","messageId":"dup-1"}'
    check_eq "messageId dup-1 on web, sent $i of 2: 200 {\"success\":true}" '200 {"success":true}' "$ST $BODY"
done
DUPS=$((DUPS + 1))
send "$KEY2" /v1/track '{"userId":"u-dup","event":"Dup","messageId":"dup-1"}'
check_eq "messageId dup-1 on the second source: 200" 200 "$ST"
send "$KEY" /v1/batch '{"batch":[{"type":"track","userId":"u-dup2","event":"Dup2","messageId":"dup-2"},
 {"type":"track","userId":"u-dup2","event":"Dup2","messageId":"dup-2"}]}'
check_eq "a batch repeating a messageId reports 1 duplicate" "200 1" "$ST $(jf 'd["duplicates"]')"
DUPS=$((DUPS + 1))

# ?strict=1: one result per message, in order, with its status and reasons.
send "$KEY" '/v1/batch?strict=1' '{"batch":[{"type":"track","userId":"u-s1","event":"Strict OK","messageId":"strict-1"},
 {"type":"track","userId":"u-s2","messageId":"strict-2"},
 {"type":"track","userId":"u-dup","event":"Dup","messageId":"dup-1"}]}'
DUPS=$((DUPS + 1))
check_match "?strict=1 with a bad message answers 4xx" '^4[0-9][0-9]$' "$ST"
check_eq "?strict=1: success is false" False "$(jf 'str(d.get("success"))')"
check_eq "?strict=1: results are accepted, quarantined, duplicate in order" \
    '0:strict-1:accepted 1:strict-2:quarantined 2:dup-1:duplicate' \
    "$(jf '" ".join("%s:%s:%s" % (r["index"], r.get("messageId"), r["status"]) for r in d["results"])')"
check_eq "?strict=1: the quarantined result names the field \"event\"" event \
    "$(jf 'd["results"][1]["reasons"][0]["field"]')"
send "$KEY" '/v1/batch?strict=1' '{"batch":[{"type":"page","userId":"u-s3","name":"Strict Page","messageId":"strict-3"}]}'
check_eq "?strict=1 with only good messages: 200, success, one accepted result" '200 True accepted' \
    "$ST $(jf '"%s %s" % (d["success"], " ".join(r["status"] for r in d["results"]))')"

# Read back: every message exactly once, as sent, with what the server adds.
"$CUSTOS" events --json >"$WORK/events.jsonl" 2>>"$WORK/cli.err"
check_eq "custos events --json exits 0" 0 $?
cat >"$WORK/expect.py" <<'EOF'
import json, re, sys
from datetime import datetime, timezone

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# (who, type, event or name, source, messageId or None for a generated one)
EXPECT = [
    ("u-identify", "identify", None, "web", None), ("u-track", "track", "Order Completed", "web", None),
    ("u-page", "page", "Home", "web", None), ("a-screen", "screen", "Main", "web", None),
    ("u-group", "group", None, "web", None), ("u-alias", "alias", None, "web", None),
    ("u-nocolon", "track", "Auth No Colon", "web", None), ("u-password", "track", "Auth Password", "web", None),
    ("u-bodykey", "track", "Body Key", "web", None), ("u-gzip", "track", "Gzipped", "web", None),
    ("u-b1", "identify", None, "web", "b-1"), ("u-b2", "track", "Batch Track", "web", "b-2"),
    ("u-b3", "page", "Batch Page", "web", "b-3"), ("u-b4", "screen", "Batch Screen", "web", "b-4"),
    ("u-b5", "group", None, "web", "b-5"), ("u-b6", "alias", None, "web", "b-6"),
    ("u-i1", "track", "Imported", "web", "i-1"), ("u-i2", "identify", None, "web", "i-2"),
    ("u-skew", "track", "Skewed", "web", "skew-1"), ("u-skew2", "track", "Skewed Batch", "web", "skew-2"),
    ("u-dup", "track", "Dup", "web", "dup-1"), ("u-dup", "track", "Dup", "app", "dup-1"),
    ("u-dup2", "track", "Dup2", "web", "dup-2"),
    ("u-s1", "track", "Strict OK", "web", "strict-1"), ("u-s3", "page", "Strict Page", "web", "strict-3"),
]

def t(s):  # ISO 8601 in UTC, with or without milliseconds
    fmt = "%Y-%m-%dT%H:%M:%S.%f%z" if "." in s else "%Y-%m-%dT%H:%M:%S%z"
    return datetime.strptime(s.replace("Z", "+0000"), fmt).timestamp()

def report(passed, what, why=""):
    print("ok\t%s" % what if passed else "not ok\t%s\t%s" % (what, str(why)[:500]))

evs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
report(len(evs) == len(EXPECT), "events --json holds exactly the %d messages accepted" % len(EXPECT),
       "it holds %d" % len(evs))
who = lambda e: e.get("userId") or e.get("anonymousId")
name = lambda e: e.get("event") if e.get("type") == "track" else e.get("name")
bad = []
for w, typ, ev, src, mid in EXPECT:
    got = [e for e in evs if who(e) == w and e.get("source") == src and (mid is None or e.get("messageId") == mid)]
    if len(got) != 1:
        bad.append("%s on %s: stored %d times" % (w, src, len(got)))
    elif got[0].get("type") != typ or (ev is not None and name(got[0]) != ev):
        bad.append("%s: type %s event %s" % (w, got[0].get("type"), name(got[0])))
report(not bad, "each message is stored exactly once with its type, event/name, userId and source", bad[:4])
report(all(UUID4.match(e.get("messageId", "")) for e in evs if who(e) in
           [x[0] for x in EXPECT if x[4] is None]),
       "messages sent without a messageId got a generated UUID v4",
       [e.get("messageId") for e in evs][:6])
report(len({(e["source"], e["messageId"]) for e in evs}) == len(evs), "no (source, messageId) is stored twice")
try:
    ok_rx = all(abs(t(e["receivedAt"]) - datetime.now(timezone.utc).timestamp()) < 600 for e in evs)
except Exception as x:
    ok_rx = x
report(ok_rx is True, "every event has a receivedAt within the last 10 minutes", ok_rx)
report(all("writeKey" not in e for e in evs), "the writeKey sent in a body is not stored")
ident = [e for e in evs if who(e) == "u-identify"]
report(ident and ident[0].get("traits") == {"name": "Ann", "city": "上海"}, "identify traits are kept (UTF-8 intact)",
       ident[:1])
for w, skew in (("u-skew", 5), ("u-skew2", 10)):
    e = [e for e in evs if who(e) == w]
    try:
        e = e[0]
        d = t(e["receivedAt"]) - skew - t(e["timestamp"])
        report(abs(d) <= 1, "%s: timestamp = receivedAt - %d s (sentAt correction), off by %.3f s" % (w, skew, d), e)
        report(t(e["originalTimestamp"]) == t("2020-01-01T00:00:00.000Z"),
               "%s: originalTimestamp is the client's timestamp" % w, e)
    except Exception as x:
        report(False, "%s: clock-skew correction" % w, "%r %r" % (x, e))
EOF
"$PY" "$WORK/expect.py" "$WORK/events.jsonl" >"$WORK/expect.out" 2>&1 ||
    not_ok "the events check ran to its end" "$(tail -n 3 "$WORK/expect.out")"
while IFS=$'\t' read -r status what why; do
    case $status in
    ok) ok "$what" ;;
    "not ok") not_ok "$what" "$why" ;;
    esac
done <"$WORK/expect.out"

# --source and --limit: only web's, only the newest 2.
"$CUSTOS" events --source web --limit 2 --json >"$WORK/two.jsonl" 2>>"$WORK/cli.err"
check_eq "events --source web --limit 2 --json prints 2 lines" 2 "$(wc -l <"$WORK/two.jsonl")"
grep '"source":"web"' "$WORK/events.jsonl" | tail -n 2 | "$PY" -c '
import json, sys; print(" ".join(json.loads(l)["messageId"] for l in sys.stdin))' >"$WORK/want2"
"$PY" -c 'import json, sys; print(" ".join(json.loads(l)["messageId"] for l in sys.stdin))' <"$WORK/two.jsonl" >"$WORK/got2"
check_eq "--limit 2 gives the newest two, oldest first" "$(cat "$WORK/want2")" "$(cat "$WORK/got2")"
check_eq "events --source web --limit 2 (table) prints a header and 2 rows" 3 \
    "$("$CUSTOS" events --source web --limit 2 2>>"$WORK/cli.err" | wc -l)"
check_eq "events --source app --json holds only app's message" "1 dup-1" \
    "$("$CUSTOS" events --source app --json | "$PY" -c '
import json, sys; L = [json.loads(l) for l in sys.stdin]; print(len(L), " ".join(e["messageId"] for e in L))')"

# /healthz, and the duplicate counter.
check_eq "GET /healthz answers 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")"
curl -s -o "$WORK/metrics" "$BASE/metrics"
check_eq "custos_messages_total{outcome=\"duplicate\"} = $DUPS duplicates sent" "$DUPS" \
    "$(metric 'custos_messages_total{outcome="duplicate"}')"

# sources list --json: both sources, with their event counts and a key hint only.
"$CUSTOS" sources list --json >"$WORK/sources.jsonl" 2>>"$WORK/cli.err"
check_eq "custos sources list --json exits 0" 0 $?
check_eq "sources list --json: web and app with their event counts" "web:24 app:1" \
    "$("$PY" -c 'import json, sys
print(" ".join("%s:%s" % (s["name"], s["events"]) for s in map(json.loads, sys.stdin)))' <"$WORK/sources.jsonl")"
check "sources list never shows a whole write key" bash -c "! grep -qF -e '$KEY' -e '$KEY2' '$WORK/sources.jsonl'"

# Deduplication survives a restart: dup-1 again is 200 and still stored once.
stop_server
check_eq "the server exits 0 on SIGTERM" 0 $?
start_server || { not_ok "the server restarts"; finish; exit 1; }
send "$KEY" /v1/track '{"userId":"u-dup","event":"Dup","messageId":"dup-1"}'
check_eq "after a restart, dup-1 again: 200" 200 "$ST"
check_eq "after a restart, dup-1 is still stored once on web" 1 \
    "$("$CUSTOS" events --source web --json | grep -c '"messageId":"dup-1"')"
stop_server
check_eq "the restarted server exits 0 on SIGTERM" 0 $?
check "the server log has no sanitizer report" bash -c "! grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' '$WORK/serve.log'"
finish
