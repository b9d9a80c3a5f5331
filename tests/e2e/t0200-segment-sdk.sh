#!/usr/bin/env bash
# t0200-segment-sdk: the real vendor SDKs against custos serve.
#
# @segment/analytics-node and @rudderstack/rudder-sdk-node (pinned by tests/e2e/sdk/
# package-lock.json) each send 200 calls (identify, track, page, group, alias) through
# tests/e2e/sdk/send.mjs, with their own batching, auth, retries and (Rudder) gzip. Then
# `custos events --json --source NAME` must hold every message exactly once, with its
# type, userId and fields, and the Chinese text byte for byte.
#
# Needs node and npm; installs the SDKs into tests/e2e/sdk/node_modules (ignored by git)
# when they are missing. Skips, saying why, only when they cannot be installed.
source "$(dirname "$0")/lib.sh"

SDK_DIR="$ROOT/tests/e2e/sdk"
COUNT=200

skip_all() {
    N=$((N + 1))
    echo "ok $N - # SKIP $1"
    finish
    exit $?
}

sdk_installed() {
    [ -f "$SDK_DIR/node_modules/@segment/analytics-node/package.json" ] &&
        [ -f "$SDK_DIR/node_modules/@rudderstack/rudder-sdk-node/package.json" ]
}

# Installs the locked versions into tests/e2e/sdk/node_modules. --ignore-scripts: neither
# SDK needs an install script; --omit=optional: leaves out bull (Rudder's optional Redis
# queue, unused here). Errors stay in the log (npm's --silent would hide them too).
# On failure, prints why on one line.
install_sdks() {
    command -v node >/dev/null || { echo "node is not installed"; return 1; }
    command -v npm >/dev/null || { echo "npm is not installed"; return 1; }
    local flags=(--loglevel=error --no-audit --no-fund --ignore-scripts --omit=optional)
    (cd "$SDK_DIR" && npm ci "${flags[@]}") >"$WORK/npm.log" 2>&1 && sdk_installed && return 0
    # npm ci refuses a lock file whose optional per-platform packages the registry does
    # not serve (npm/cli#9846; here msgpackr-extract's darwin and win32 builds, under
    # bull). npm install --no-save installs the same locked versions, lock file untouched.
    if grep -q 'in sync' "$WORK/npm.log"; then
        echo "# npm ci rejected the lock file (npm/cli#9846): npm install --no-save instead" >"$WORK/npm.note"
        (cd "$SDK_DIR" && npm install --no-save "${flags[@]}") >>"$WORK/npm.log" 2>&1 &&
            sdk_installed && return 0
    fi
    grep -E 'npm (error|ERR)' "$WORK/npm.log" | grep -v nodedir | grep -vE 'error *$' | head -n 1 |
        grep . || echo "npm failed; see $WORK/npm.log"
    return 1
}

if ! sdk_installed; then
    start=$(date +%s)
    why=$(install_sdks) ||
        skip_all "npm unavailable: could not install tests/e2e/sdk: $why"
    [ -s "$WORK/npm.note" ] && cat "$WORK/npm.note"
    echo "# installed the SDKs in $(($(date +%s) - start)) s"
fi

for sdk in segment rudder; do
    "$CUSTOS" sources add "$sdk-node" >"$WORK/key.$sdk" 2>>"$WORK/cli.log"
    check_eq "custos sources add $sdk-node exits 0" 0 $?
done
start_server || { not_ok "the server starts"; finish; exit 1; }

for sdk in segment rudder; do
    key=$(cat "$WORK/key.$sdk")
    start=$(date +%s)
    (cd "$SDK_DIR" && node send.mjs "$sdk" "$BASE" "$key" "$COUNT") >"$WORK/sent.$sdk.json" 2>"$WORK/send.$sdk.log"
    rc=$?
    if [ $rc = 0 ]; then
        ok "$sdk SDK: send.mjs delivered $COUNT calls ($(($(date +%s) - start)) s)"
    else
        not_ok "$sdk SDK: send.mjs delivered $COUNT calls" "exit $rc; $(tail -c 600 "$WORK/send.$sdk.log" | tr '\n' ' ')"
    fi
    "$CUSTOS" events --json --source "$sdk-node" >"$WORK/events.$sdk.jsonl" 2>>"$WORK/cli.log"
    check_eq "$sdk SDK: custos events --json --source $sdk-node exits 0" 0 $?
done

# One "ok<TAB>what" or "not ok<TAB>what<TAB>why" line per check.
cat >"$WORK/verify.py" <<'EOF'
import json, sys
from collections import Counter

sdk, sent_path, events_path, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
CITY = "上海"

def report(passed, what, why=""):
    print("ok\t%s" % what if passed else "not ok\t%s\t%s" % (what, why.replace("\n", " ")[:600]))

try:
    with open(sent_path, "rb") as f:
        sent = json.loads(f.read().decode("utf-8"))
except Exception as e:
    report(False, "%s SDK: send.mjs printed its result as JSON" % sdk, repr(e))
    sys.exit(0)
msgs = sent["messages"]
print("#\t%s: %s@%s posted to %s; %d delivered, errors: %s" % (
    sdk, {"segment": "@segment/analytics-node", "rudder": "@rudderstack/rudder-sdk-node"}[sdk],
    sent["version"], sent["path"], sent["delivered"], sent["errors"][:3]))
report(sent["path"] == "/v1/batch", "%s SDK posts to /v1/batch, which custos serves" % sdk,
       "the SDK posts to %s" % sent["path"])
report(len(msgs) == count and all(m["messageId"] for m in msgs),
       "%s SDK: %d messageIds known" % (sdk, count),
       "%d messages, %d without a messageId" % (len(msgs), sum(not m["messageId"] for m in msgs)))

raw_lines = []
bad_lines = 0
with open(events_path, "rb") as f:
    for line in f:
        line = line.rstrip(b"\n")
        if not line:
            continue
        try:
            raw_lines.append((line, json.loads(line.decode("utf-8"))))
        except Exception:
            bad_lines += 1
report(bad_lines == 0, "%s SDK: every stored event is valid UTF-8 JSON" % sdk,
       "%d lines are not" % bad_lines)
report(len(raw_lines) == count, "%s SDK: the source holds %d events" % (sdk, count),
       "it holds %d" % len(raw_lines))

by_id = {}
dups = []
for raw, ev in raw_lines:
    mid = ev.get("messageId")
    if mid in by_id:
        dups.append(mid)
    by_id[mid] = (raw, ev)
sent_ids = [m["messageId"] for m in msgs]
missing = [i for i in sent_ids if i not in by_id]
extra = sorted(set(by_id) - set(sent_ids))
report(not missing, "%s SDK: every sent messageId is stored" % sdk,
       "%d missing, e.g. %s" % (len(missing), missing[:3]))
report(not dups and len(set(sent_ids)) == len(sent_ids),
       "%s SDK: no messageId is stored twice" % sdk, "stored twice: %s" % dups[:3])
report(not extra, "%s SDK: nothing stored that was not sent" % sdk, "extra: %s" % extra[:3])

stored_users = Counter(ev.get("userId") for _, ev in raw_lines)
sent_users = Counter(m["userId"] for m in msgs)
report(stored_users == sent_users, "%s SDK: the stored userIds are exactly the sent ones" % sdk,
       "stored but not sent: %s; sent but not stored: %s" % (
           list((stored_users - sent_users).items())[:3],
           list((sent_users - stored_users).items())[:3]))

wrong_type, wrong_fields, wrong_text, wrong_bytes, wrong_num = [], [], [], [], []
counts = Counter()
expected = Counter(m["type"] for m in msgs)
for m in msgs:
    got = by_id.get(m["messageId"])
    if not got:
        continue
    raw, ev = got
    t = m["type"]
    counts[t] += 1
    if ev.get("type") != t or ev.get("userId") != m["userId"] or ev.get("source") != sdk + "-node":
        wrong_type.append((m["messageId"], t, ev.get("type"), ev.get("userId")))
        continue
    i = int(m["userId"].rsplit("-u", 1)[1])
    props = ev.get("properties") or {}
    traits = ev.get("traits") or {}
    if t == "track":
        ok_fields = ev.get("event") == "Order Completed"
        text = props.get("city") == CITY and props.get("store") == CITY + "浦东店 🚀"
        nums = (props.get("total") == 199.5 and props.get("quantity") == 3 and
                props.get("index") == i and type(props.get("quantity")) is int)
        literal = ('"city":"%s"' % CITY).encode("utf-8") in raw and \
                  ('"store":"%s浦东店 🚀"' % CITY).encode("utf-8") in raw
        if not nums:
            wrong_num.append((m["messageId"], props))
        if not literal:
            wrong_bytes.append(raw[:300])
    elif t == "identify":
        ok_fields = True
        text = traits.get("city") == CITY and traits.get("name") == "张伟" and traits.get("age") == 36
    elif t == "page":
        ok_fields = ev.get("name") == "Product Detail"
        text = props.get("title") == CITY + " 小笼包"
    elif t == "group":
        ok_fields = ev.get("groupId", "").endswith("-g%d" % i)
        text = traits.get("name") == CITY + "分公司" and traits.get("employees") == 42
    else:
        ok_fields = ev.get("previousId", "").endswith("-anon%d" % i)
        text = True
    if not ok_fields:
        wrong_fields.append((m["messageId"], t))
    if not text:
        wrong_text.append((m["messageId"], t, props or traits))

# Each check below looked at every message sent (a message not stored fails them all).
seen_all = counts == expected and sum(counts.values()) == count
why_unseen = "" if seen_all else "only %d of %d messages could be looked at" % (sum(counts.values()), count)
report(seen_all and not wrong_type,
       "%s SDK: every stored message has the type and userId it was sent with" % sdk,
       why_unseen or "%d wrong: %s" % (len(wrong_type), wrong_type[:3]))
report(all(counts[t] > 0 for t in ("identify", "track", "page", "group", "alias")),
       "%s SDK: identify, track, page, group and alias all stored (%s)" % (
           sdk, ", ".join("%s %d" % kv for kv in sorted(counts.items()))), "counts %s" % dict(counts))
report(seen_all and not wrong_fields, "%s SDK: event, name, groupId and previousId kept" % sdk,
       why_unseen or "%d wrong: %s" % (len(wrong_fields), wrong_fields[:3]))
report(seen_all and not wrong_text, "%s SDK: Chinese text (上海) decodes unchanged" % sdk,
       why_unseen or "%d wrong: %s" % (len(wrong_text), wrong_text[:2]))
report(seen_all and not wrong_bytes,
       "%s SDK: Chinese text stored byte-exact as UTF-8, not escaped (%d tracks)" % (sdk, counts["track"]),
       why_unseen or "%d wrong, e.g. %r" % (len(wrong_bytes), wrong_bytes[:1]))
report(seen_all and not wrong_num, "%s SDK: numeric properties kept (199.5, 3, index)" % sdk,
       why_unseen or "%d wrong: %s" % (len(wrong_num), wrong_num[:2]))
print("end")
EOF

for sdk in segment rudder; do
    python3 "$WORK/verify.py" "$sdk" "$WORK/sent.$sdk.json" "$WORK/events.$sdk.jsonl" "$COUNT" \
        >"$WORK/verify.$sdk.out" 2>"$WORK/verify.$sdk.err"
    rc=$?
    ended=0
    while IFS=$'\t' read -r status what why; do
        case $status in
        ok) ok "$what" ;;
        "not ok") not_ok "$what" "$why" ;;
        "#") echo "# $what" ;;
        end) ended=1 ;;
        esac
    done <"$WORK/verify.$sdk.out"
    [ $rc = 0 ] && [ $ended = 1 ] ||
        not_ok "$sdk SDK: the verification ran to its end" "exit $rc: $(tail -n 3 "$WORK/verify.$sdk.err" | tr '\n' ' ')"
done

stop_server
check_eq "the server stops cleanly on SIGTERM" 0 $?
if [ "$FAILED" != 0 ]; then
    echo "# server log:"
    tail -n 20 "$WORK/serve.log" | sed 's/^/#   /'
fi
finish
