#!/usr/bin/env bash
# Differentially private analytics: the role rule of GET /api/v1/analytics/* (admin with
# or without dp_epsilon, analyst and marketing only with it, service and risk never),
# private answers that say they are noisy, each key's privacy budget charged and
# refused with 429 without spending, custos keys budget (audited), and custos analyze
# --dp-epsilon on the command line.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

"$CUSTOS" demo --customers 200 --out "$WORK/demo" --load >/dev/null 2>&1
check "the demo world resolves" "$CUSTOS" resolve --quiet
declare -A KEY
for r in admin analyst marketing service risk; do KEY[$r]=$("$CUSTOS" keys add --role "$r" --name "$r" 2>/dev/null); done
AID=$("$CUSTOS" keys list --json | "$PY" -c 'import json,sys
for l in sys.stdin:
    k = json.loads(l)
    if k["role"] == "analyst": print(k["id"])')
check_match "the analyst key has an id" '^[0-9]+$' "$AID"

start_server
code() { curl -s -o "$WORK/resp" -w '%{http_code}' -H "Authorization: Bearer ${KEY[$1]}" "$BASE/api/v1/analytics/$2"; }
jget() { "$PY" -c "import json,sys; d = json.load(open('$WORK/resp')); print($1)"; }

check_eq "analyst without dp_epsilon: 403" 403 "$(code analyst kpi)"
check_match "... saying dp_epsilon is needed" 'only with dp_epsilon' "$(cat "$WORK/resp")"
check_eq "marketing without dp_epsilon: 403" 403 "$(code marketing "cohort")"
check_eq "service even with dp_epsilon: 403" 403 "$(code service "kpi?dp_epsilon=1")"
check_eq "risk even with dp_epsilon: 403" 403 "$(code risk "kpi?dp_epsilon=1")"
check_eq "admin without dp_epsilon: 200" 200 "$(code admin "kpi?period=quarter")"
check_eq "... an exact answer (no dp member)" False "$(jget '"dp" in d')"
EXACT=$(jget 'sum(r["orders"] for r in d["rows"])')
check_eq "a dp_epsilon out of range: 400" 400 "$(code analyst "kpi?dp_epsilon=50")"
check_eq "a bad dp_clamp: 400" 400 "$(code analyst "kpi?dp_epsilon=1&dp_clamp=10:20")"
check_eq "paths cannot be private: 400" 400 "$(code analyst "paths?from=Product%20Viewed&dp_epsilon=1")"
check_eq "nor one RFM row per profile: 400" 400 "$(code analyst "rfm?profiles=1&dp_epsilon=1")"
check_eq "the refused requests spent nothing" 0 "$("$CUSTOS" keys budget "$AID" --json | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())["spent"])')"

check_eq "analyst kpi with dp_epsilon=2: 200" 200 "$(code analyst "kpi?period=quarter&dp_epsilon=2")"
check_eq "... says it is noisy, with epsilon" "True 2" "$(jget 'd["dp"]["noisy"], d["dp"]["epsilon"]' | tr -d '(),')"
check_eq "... split over 7 cells a row" True "$(jget 'd["dp"]["cells"] == 7 * len(d["rows"])')"
check_eq "... with the count noise scale cells / epsilon" True "$(jget 'abs(d["dp"]["count_noise_scale"] - d["dp"]["cells"] / 2) < 1e-6')"
check_eq "... and the sum's: 100000 (the default clamp) x cells / epsilon" True "$(jget 'abs(d["dp"]["sum_noise_scale"] - 100000 * d["dp"]["cells"] / 2) < 1e-3')"
check_eq "... 8 of the key's 10 remain" 8 "$(jget 'd["dp"]["budget_remaining"]')"
check_eq "analyst funnel with dp_epsilon=1: 200" 200 "$(code analyst "funnel?steps=Product%20Viewed,Order%20Completed&dp_epsilon=1")"
check_eq "... medians withheld" True "$(jget 'all(r["median_seconds"] is None for r in d["rows"])')"
# a large epsilon on one cell: the noisy total is near the exact one
check_eq "marketing funnel, 2 cells with epsilon 8: 200" 200 "$(code marketing "funnel?steps=Product%20Viewed,Order%20Completed&dp_epsilon=8")"
N1=$(jget 'd["rows"][0]["customers"]')
code admin "funnel?steps=Product%20Viewed,Order%20Completed" >/dev/null
E1=$(jget 'd["rows"][0]["customers"]')
check "... within 20 noise scales (0.25 each) of the exact $E1: $N1" test "$(( N1 - E1 < 5 && E1 - N1 < 5 ))" = 1
# steps with several filters over HTTP: commas inside brackets belong to the step
code admin "funnel?steps=Product%20Viewed%5Bcategory%3D%E9%A3%9F%E5%93%81%2Csource%3Dapp%5D,Product%20Added&by=properties.category" >/dev/null
check_eq "admin funnel with two filters in a step, by a property: equals custos analyze" \
    "$("$CUSTOS" analyze funnel 'Product Viewed[category=食品,source=app]' 'Product Added' --by properties.category --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["rows"])')" \
    "$(jget 'd["rows"]')"
check_eq "... and it has rows" True "$(jget 'd["rows"][0]["customers"] > 0')"
check_eq "analyst cohort with dp_epsilon=1: 200" 200 "$(code analyst "cohort?dp_epsilon=1")"
check_eq "analyst rfm with dp_epsilon=1: 200" 200 "$(code analyst "rfm?dp_epsilon=1")"
check_eq "... the segments' customers add up to the total given" True "$(jget 'sum(r["customers"] for r in d["rows"]) == d["customers"]')"
# 2 + 1 + 1 + 1 = 5 spent; 5 left
check_eq "asking for 6 with 5 left: 429" 429 "$(code analyst "kpi?dp_epsilon=6")"
check_eq "... privacy_budget_exhausted" privacy_budget_exhausted "$(jget 'd["code"]')"
check_eq "... and nothing was spent" 5 "$("$CUSTOS" keys budget "$AID" --json | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())["spent"])')"
check_eq "asking for exactly 5: 200" 200 "$(code analyst "kpi?dp_epsilon=5")"
check_eq "... none left" 0 "$(jget 'd["dp"]["budget_remaining"]')"
check_eq "then even 0.001: 429" 429 "$(code analyst "kpi?dp_epsilon=0.001")"
check_eq "another key's budget is its own" 200 "$(code marketing "kpi?dp_epsilon=1")"
check_eq "admin keys are charged too" 200 "$(code admin "kpi?dp_epsilon=1")"
check_eq "... 9 left" 9 "$(jget 'd["dp"]["budget_remaining"]')"

# custos keys budget: see and set, audited
OUT=$("$CUSTOS" keys budget "$AID")
check_match "keys budget shows budget, spent and remaining" 'budget +spent +remaining' "$OUT"
"$CUSTOS" keys budget "$AID" --set 20 >/dev/null
check_eq "--set 20 gives the key 10 more" 200 "$(code analyst "kpi?dp_epsilon=4")"
check_eq "... 6 remain" 6 "$(jget 'd["dp"]["budget_remaining"]')"
"$CUSTOS" keys budget "$AID" --reset >/dev/null
check_eq "--reset: spent 0" 0 "$("$CUSTOS" keys budget "$AID" --json | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())["spent"])')"
check_eq "--default: back to the setting" "10 dp-budget setting" "$("$CUSTOS" keys budget "$AID" --default --json | "$PY" -c 'import json,sys; d = json.loads(sys.stdin.readline()); print(d["budget"], d["budget_from"])')"
check_eq "the three changes are audited" 3 "$("$CUSTOS" audit list --json --action key.budget | grep -c "\"subject\":\"key:$AID\"")"
OUT=$("$CUSTOS" keys budget 999 2>&1); RC=$?
check_eq "an unknown key: exit 1" 1 "$RC"
OUT=$("$CUSTOS" keys budget "$AID" --set 0 2>&1); RC=$?
check_eq "a budget of 0: exit 2" 2 "$RC"
check "the server stops cleanly" stop_server

# The command line
OUT=$("$CUSTOS" analyze kpi --period quarter --dp-epsilon 1 2>&1 >/dev/null)
check_match "analyze kpi --dp-epsilon says on stderr the values are noisy, with epsilon and scales" \
    'noisy values.*epsilon 1 split over [0-9]+ cells.*scale' "$OUT"
C=$("$CUSTOS" analyze cohort --dp-epsilon 2 --json)
check_eq "analyze cohort --dp-epsilon --json has dp" True "$(printf '%s' "$C" | "$PY" -c 'import json,sys; d = json.load(sys.stdin); print(d["dp"]["epsilon"] == 2 and d["dp"]["cells"] > 0)')"
"$CUSTOS" analyze rfm --profiles --dp-epsilon 1 >/dev/null 2>&1
check_eq "analyze rfm --profiles --dp-epsilon: exit 2" 2 "$?"
"$CUSTOS" analyze kpi --dp-epsilon 11 >/dev/null 2>&1
check_eq "an epsilon above 10: exit 2" 2 "$?"
"$CUSTOS" analyze kpi --dp-epsilon 1 --dp-clamp 0:abc >/dev/null 2>&1
check_eq "a bad --dp-clamp: exit 2" 2 "$?"
# Clamping: a one-profile clamp of 1 minor unit and at most 1 order: the exact sums
# before noise are at most the buyers; with epsilon 10 over 7 cells a row the noisy
# revenue of the whole answer stays far below the exact revenue.
EXACT_REV=$("$CUSTOS" analyze kpi --period quarter --json | "$PY" -c 'import json,sys; print(sum(r["revenue_minor"] for r in json.load(sys.stdin)["rows"]))')
NOISY_REV=$("$CUSTOS" analyze kpi --period quarter --dp-epsilon 10 --dp-clamp 0:1 --dp-max-orders 1 --json | "$PY" -c 'import json,sys; print(sum(r["revenue_minor"] for r in json.load(sys.stdin)["rows"]))')
check "a clamp of 0:1 keeps the noisy revenue ($NOISY_REV) far below the exact $EXACT_REV" test "$NOISY_REV" -lt $((EXACT_REV / 100))
check "the orders were exact before ($EXACT)" test "$EXACT" -gt 0
finish
