#!/usr/bin/env bash
# t0130-cli: the command line. Help for every verb, exit statuses (0 success,
# 1 failure, 2 bad usage) with a message on stderr, settings precedence (default <
# custos.conf < CUSTOS_* < --flag) both as `config show` reports it and as it acts,
# and `serve` refusing a listen address it cannot use.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3 # the system Python starts fastest; any python3 will do
[ -x "$PY" ] || PY=python3

# run CMD...: runs it; sets RC, OUT (stdout) and ERR (stderr). Kills it after $T s (20).
run() {
    timeout "${T:-20}" "$@" >"$WORK/out" 2>"$WORK/err"
    RC=$?
    OUT=$(cat "$WORK/out")
    ERR=$(cat "$WORK/err")
}

# custos --help: exit 0, the overview on stdout listing every verb.
run "$CUSTOS" --help
check_eq "custos --help exits 0" 0 "$RC"
VERBS=$(printf '%s\n' "$OUT" | awk '/^  [a-z]+ / {print $1}' | tr '\n' ' ')
for v in serve sources events quarantine import config version; do
    check_match "custos --help lists $v" "(^| )$v " "$VERBS"
done
run "$CUSTOS"
check_eq "custos with no verb exits 2, the overview on stderr" "2 yes" \
    "$RC $(printf '%s' "$ERR" | grep -q 'usage: custos VERB' && echo yes)"
run "$CUSTOS" nosuch
check_eq "custos nosuch exits 2" 2 "$RC"
check_match "custos nosuch says the verb is unknown" 'unknown verb "nosuch"' "$ERR"

# Every verb's --help: exit 0 and its usage line.
for v in $VERBS; do
    run "$CUSTOS" "$v" --help
    check_eq "custos $v --help exits 0 with \"usage: custos $v\"" "0 yes" \
        "$RC $(printf '%s' "$OUT" | grep -q "^usage: custos $v" && echo yes)"
done
run "$CUSTOS" help quarantine
check_match "custos help quarantine shows its usage" '^usage: custos quarantine' "$OUT"
run "$CUSTOS" sources --help
check_match "custos sources --help lists the settings flags too" '--db ' "$OUT"

# Bad usage: exit 2 with a message naming the problem.
run "$CUSTOS" events --limit x
check_eq "custos events --limit x exits 2" 2 "$RC"
check_match "it says what is wrong with --limit" '--limit.*"x"' "$ERR"
run "$CUSTOS" events --limit -3
check_eq "custos events --limit -3 exits 2" 2 "$RC"
run "$CUSTOS" events --nosuch
check_eq "custos events --nosuch exits 2 naming the option" "2 yes" \
    "$RC $(printf '%s' "$ERR" | grep -q -- '--nosuch' && echo yes)"
run "$CUSTOS" sources frobnicate
check_eq "custos sources frobnicate exits 2" 2 "$RC"
run "$CUSTOS" quarantine show
check_eq "custos quarantine show (no ID) exits 2" 2 "$RC"
run "$CUSTOS" events --max-queue abc
check_eq "a setting flag with a bad value (--max-queue abc) exits 2" 2 "$RC"
check_match "it names the setting and the value" 'max-queue.*abc' "$ERR"
run "$CUSTOS" events --db
check_eq "a setting flag without its value (--db) exits 2" 2 "$RC"

# Source names: a bad name is bad usage (2); the same name twice is a failure (1).
run "$CUSTOS" sources add 'bad name!'
check_eq "sources add 'bad name!' exits 2" 2 "$RC"
check_match "it says which characters a name may use" 'letters, digits' "$ERR"
run "$CUSTOS" sources add "$(printf 'n%.0s' $(seq 65))"
check_eq "a 65-character source name exits 2" 2 "$RC"
run "$CUSTOS" sources add twice
check_eq "sources add twice exits 0 the first time" 0 "$RC"
run "$CUSTOS" sources add twice
check_eq "sources add twice exits 1 the second time" 1 "$RC"
check_match "it says the source exists" 'already exists' "$ERR"
check_eq "and prints no key" "" "$OUT"
run "$CUSTOS" events --source nosuch
check_eq "events --source nosuch exits 1" 1 "$RC"

# Settings precedence: custos.conf (db = a.db) < CUSTOS_DB=b.db < --db c.db, as
# config show reports it ("origin") and as it acts (where a source lands).
mkdir -p "$WORK/cfg" && cd "$WORK/cfg" || exit 1
printf '# a comment\ndb = a.db\nlog-level = "warn"\n' >custos.conf
dbof() { "$PY" -c 'import json, sys; d = json.load(sys.stdin)["db"]; print(d["value"], d["origin"])'; }
check_eq "no file, no env, no flag: db is the default" "custos.db default" \
    "$(cd "$WORK" && mkdir -p none && cd none && env -u CUSTOS_DB "$CUSTOS" config show --json | dbof)"
check_eq "custos.conf: db = a.db, origin file" "a.db file" "$(env -u CUSTOS_DB "$CUSTOS" config show --json | dbof)"
check_eq "a quoted value in custos.conf is unquoted (log-level warn, origin file)" "warn file" \
    "$(env -u CUSTOS_DB "$CUSTOS" config show --json | "$PY" -c 'import json, sys
d = json.load(sys.stdin)["log-level"]; print(d["value"], d["origin"])')"
check_eq "CUSTOS_DB=b.db beats the file: origin env" "b.db env" "$(CUSTOS_DB=b.db "$CUSTOS" config show --json | dbof)"
check_eq "--db c.db beats both: origin flag" "c.db flag" "$(CUSTOS_DB=b.db "$CUSTOS" config show --json --db c.db | dbof)"
check_eq "--db=c.db works too" "c.db flag" "$(CUSTOS_DB=b.db "$CUSTOS" config show --json --db=c.db | dbof)"
env -u CUSTOS_DB "$CUSTOS" sources add s-file >/dev/null 2>>"$WORK/cli.err"
CUSTOS_DB=b.db "$CUSTOS" sources add s-env >/dev/null 2>>"$WORK/cli.err"
CUSTOS_DB=b.db "$CUSTOS" sources add s-flag --db c.db >/dev/null 2>>"$WORK/cli.err"
names() { "$CUSTOS" sources list --csv --db "$1" 2>/dev/null | awk -F, 'NR > 1 {print $2}' | tr '\n' ' '; }
check_eq "with the file only, the source lands in a.db" "s-file " "$(names a.db)"
check_eq "with CUSTOS_DB, the source lands in b.db" "s-env " "$(names b.db)"
check_eq "with --db, the source lands in c.db" "s-flag " "$(names c.db)"
check "no custos.db was created by any of them" [ ! -e custos.db ]
printf 'db = a.db\ncolour = blue\n' >custos.conf
run env -u CUSTOS_DB "$CUSTOS" config show
check_eq "an unknown setting in custos.conf exits 2" 2 "$RC"
check_match "it names the file and the line" 'custos\.conf:2' "$ERR"
check_match "and the setting" 'colour' "$ERR"
printf 'db a.db\n' >custos.conf
run env -u CUSTOS_DB "$CUSTOS" config show
check_eq "a line without = in custos.conf exits 2 naming file:line" "2 yes" \
    "$RC $(printf '%s' "$ERR" | grep -q 'custos\.conf:1' && echo yes)"
rm -f custos.conf
run env CUSTOS_MAX_QUEUE=lots "$CUSTOS" config show
check_eq "a bad value in the environment exits 2" 2 "$RC"
check_match "it names the variable" 'CUSTOS_MAX_QUEUE' "$ERR"
run "$CUSTOS" config show --config "$WORK/cfg/nonexistent.conf"
check_eq "--config naming a missing file exits 1" 1 "$RC"
check_match "it names the file" 'nonexistent\.conf' "$ERR"
printf 'listen = 127.0.0.1:1234\n' >"$WORK/other.conf"
check_eq "--config FILE is read (listen from the file)" "127.0.0.1:1234 file" \
    "$("$CUSTOS" config show --json --config "$WORK/other.conf" | "$PY" -c 'import json, sys
d = json.load(sys.stdin)["listen"]; print(d["value"], d["origin"])')"
cd "$WORK" || exit 1

# serve --listen with a bad value: exits non-zero at once, saying what is wrong.
for bad in nonsense 127.0.0.1:99999 999.1.1.1:80 127.0.0.1: localhost:http; do
    run "$CUSTOS" serve --listen "$bad" --ready-file "$WORK/never"
    check "serve --listen $bad exits non-zero (got $RC), within 20 s" test "$RC" -ne 0 -a "$RC" -ne 124
    check_match "serve --listen $bad says what is wrong with the address" 'listen (address|port|host)' "$ERR"
done
check "no ready file was written for a bad address" [ ! -e "$WORK/never" ]

# serve on a port another server already listens on: must fail, not share the port.
# (fixed; an earlier revision:) the listening socket is opened with address reuse
# (MHD_OPTION_LISTENING_ADDRESS_REUSE 1, i.e. SO_REUSEPORT): a second server, on another
# database, starts too and the kernel splits the connections between the two.
start_server || { not_ok "the server starts"; finish; exit 1; }
T=5 run "$CUSTOS" serve --listen "127.0.0.1:$PORT" --db "$WORK/second.db" --ready-file "$WORK/second.ready"
check_eq "a second serve on the same port exits 1 (not serving, not waiting)" 1 "$RC"
check_match "it says it cannot listen there" 'cannot listen' "$ERR"
check_eq "the first server still answers" 200 "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$BASE/healthz")"
stop_server
check_eq "the server exits 0 on SIGTERM" 0 $?
check "the server log has no sanitizer report" bash -c "! grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' '$WORK/serve.log'"
"$CUSTOS" config show --markdown >"$WORK/settings.md"
check_eq "docs/configuration.md has the settings table exactly as config show prints it" \
    "$(wc -l <"$WORK/settings.md")" "$(grep -cxFf "$WORK/settings.md" "$ROOT/docs/configuration.md")"
run "$CUSTOS" version --classification "phone:secret"
check_eq "a classification with an unknown class is a usage error" 2 "$RC"
check "it names the class at fault" grep -q '"secret" is not a class' "$WORK/err"
finish
