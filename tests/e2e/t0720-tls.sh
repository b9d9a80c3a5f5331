#!/usr/bin/env bash
# HTTPS: custos serve with tls-cert and tls-key serves TLS only (curl --cacert with a
# self-signed certificate made by openssl answers; plain HTTP to that port does not),
# collection and the profile API work over it, and the server refuses to start, with a
# message naming the setting, when one of the two is missing, unreadable, not PEM, or
# the key is not the certificate's.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "1..0 # SKIP openssl is not installed (scripts/setup)"; exit 0; }
run() { OUT=$("$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
mkcert() {
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/$1.key" -out "$WORK/$1.pem" -days 2 \
        -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
    chmod 600 "$WORK/$1.key"
}
mkcert a
mkcert b
check "openssl made a self-signed certificate" test -s "$WORK/a.pem"

WKEY=$("$CUSTOS" sources add web)
AKEY=$("$CUSTOS" keys add --role admin 2>/dev/null)
start_server --tls-cert "$WORK/a.pem" --tls-key "$WORK/a.key"
check_match "the log says HTTPS" 'HTTPS' "$(cat "$WORK/serve.log")"
S="https://127.0.0.1:$PORT"
R=$(curl -s --cacert "$WORK/a.pem" "$S/healthz")
check_match "GET /healthz over HTTPS with --cacert" '"status":"ok"' "$R"
R=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/a.pem" -u "$WKEY:" \
    -H 'Content-Type: application/json' -d '{"userId":"u-1","event":"Secure"}' "$S/v1/track")
check_eq "collection over HTTPS: 200" 200 "$R"
R=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/a.pem" -H "Authorization: Bearer $AKEY" "$S/api/v1/profiles/999999")
check_eq "the profile API over HTTPS answers (404: no such profile)" 404 "$R"
curl -s -m 5 -o /dev/null "http://127.0.0.1:$PORT/healthz"
check "plain HTTP to the TLS port fails" test $? -ne 0
curl -s -m 5 -o /dev/null --cacert "$WORK/b.pem" "$S/healthz"
check "a client trusting another certificate refuses the server" test $? -ne 0
check "the server stops cleanly" stop_server
check_eq "the event sent over HTTPS was stored" 1 "$("$CUSTOS" events --json | grep -c Secure)"

refuse() { # refuse "what" PATTERN FLAGS...
    local what=$1 pat=$2; shift 2
    run "$CUSTOS" serve --listen 127.0.0.1:0 "$@"
    check_eq "$what: exits 1" 1 "$RC"
    check_match "$what: says why" "$pat" "$ERR"
}
refuse "tls-cert without tls-key" 'tls-cert is set but tls-key is not' --tls-cert "$WORK/a.pem"
refuse "tls-key without tls-cert" 'tls-key is set but tls-cert is not' --tls-key "$WORK/a.key"
refuse "an unreadable certificate" 'tls-cert: cannot read' --tls-cert "$WORK/none.pem" --tls-key "$WORK/a.key"
echo "not a certificate" >"$WORK/junk.pem"
refuse "a file that is not PEM" 'tls-cert: .*not a PEM file' --tls-cert "$WORK/junk.pem" --tls-key "$WORK/a.key"
refuse "a key that is not the certificate's" 'not the certificate' --tls-cert "$WORK/a.pem" --tls-key "$WORK/b.key"
chmod 644 "$WORK/a.key"
start_server --tls-cert "$WORK/a.pem" --tls-key "$WORK/a.key"
check "a key readable by others still serves" test -n "$PORT"
stop_server
check_match "with a warning to chmod it" 'chmod 600' "$(cat "$WORK/serve.log")"
finish
