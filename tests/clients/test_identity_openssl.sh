#!/bin/bash
# shellcheck disable=SC2317  # cleanup() runs from the EXIT trap
# openssl verifies the instance-identity signatures served by a server started with
# --identity-cert FILE (contract §9.2):
#   * AWS's documented commands, run here: `openssl dgst -sha256 -verify` for
#     `signature`, `openssl smime -verify ... -noverify` for `pkcs7` and `rsa2048`
#     (headerless base64, so the BEGIN/END PKCS7 lines are added as AWS says);
#     a tampered document must NOT verify;
#   * tests/identity_verify.sh URL CERTFILE, when that script exists (skipped if not).
# Final line: "N passed, M failed[, K skipped]".  Only 127.0.0.1 is contacted.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${GIMME_BIN:-$root/gimme-aws-mini}
pass=0 fail=0 skip=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gimme-idverify.XXXXXX")
srv_pid=

cleanup() {
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -TERM "$srv_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok()   { pass=$((pass + 1)); echo "ok   - $1"; }
bad()  { fail=$((fail + 1)); echo "FAIL - $1"; [ $# -gt 1 ] && printf '       %s\n' "${@:2}"; }
skp()  { skip=$((skip + 1)); echo "skip - $1"; }
finish() {
	if [ "$skip" -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"
	else echo "$pass passed, $fail failed"; fi
	[ "$fail" -eq 0 ]
	exit $?
}

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
export HOME="$tmp/home"; mkdir -p "$HOME"   # no ~/.curlrc

if [ ! -x "$bin" ]; then
	bad "server binary $bin missing (make gimme-aws-mini)"
	finish
fi

cert="$tmp/identity-certs.pem"
"$bin" serve --listen 127.0.0.1:0 --identity-key "$tmp/identity-key.pem" \
	--identity-cert "$cert" 2>"$tmp/stderr" &
srv_pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$tmp/stderr" | head -n1)
	[ -n "$port" ] && break
	kill -0 "$srv_pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$port" ]; then
	bad "server did not start" "$(tail -n 5 "$tmp/stderr")"
	finish
fi
url="http://127.0.0.1:$port"
ok "server started on $url with --identity-cert"

if [ -s "$cert" ] && grep -q -- '-----BEGIN CERTIFICATE-----' "$cert"; then
	ok "certificate file written ($(grep -c -- '-----BEGIN CERTIFICATE-----' "$cert") certificates)"
else
	bad "no PEM certificates in $cert"
	finish
fi

token=$(curl -sf -X PUT "$url/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
get() { curl -sf -H "X-aws-ec2-metadata-token: $token" "$url/latest/dynamic/instance-identity/$1" -o "$2"; }

doc="$tmp/document"
if get document "$doc" && [ -s "$doc" ]; then ok "fetched document ($(wc -c <"$doc") bytes)"
else bad "GET dynamic/instance-identity/document"; finish; fi
sed 's/"instanceId" : "i-/"instanceId" : "i-f/' "$doc" >"$tmp/tampered"
cmp -s "$doc" "$tmp/tampered" && bad "tampering did not change the document"

# split the bundle into one file per certificate, extract public keys
awk -v d="$tmp" '/-----BEGIN CERTIFICATE-----/{n++} n{print > (d "/cert" n ".pem")}' "$cert"

# signature: RSA over SHA-256 of the document bytes
if get signature "$tmp/signature.b64"; then
	base64 -d "$tmp/signature.b64" >"$tmp/signature.bin" 2>/dev/null
	verified='' tamper_ok=''
	for c in "$tmp"/cert*.pem; do
		openssl x509 -pubkey -noout -in "$c" >"$c.pub" 2>/dev/null || continue
		if openssl dgst -sha256 -verify "$c.pub" -signature "$tmp/signature.bin" "$doc" >/dev/null 2>&1; then
			verified=$c
			openssl dgst -sha256 -verify "$c.pub" -signature "$tmp/signature.bin" "$tmp/tampered" \
				>/dev/null 2>&1 || tamper_ok=1
		fi
	done
	if [ -n "$verified" ]; then ok "signature verifies with openssl dgst -sha256 ($(basename "$verified"))"
	else bad "signature does not verify with any certificate in $cert"; fi
	if [ -n "$verified" ] && [ -n "$tamper_ok" ]; then ok "signature rejects a tampered document"
	elif [ -n "$verified" ]; then bad "signature also verifies a tampered document"; fi
else
	bad "GET dynamic/instance-identity/signature"
fi

# pkcs7 (DSA/SHA-1) and rsa2048 (RSA/SHA-256): CMS SignedData embedding the document
for leaf in pkcs7 rsa2048; do
	if ! get "$leaf" "$tmp/$leaf.b64"; then bad "GET dynamic/instance-identity/$leaf"; continue; fi
	if grep -q -- '-----BEGIN' "$tmp/$leaf.b64"; then bad "$leaf carries PEM armour (must be headerless)"; fi
	{ echo "-----BEGIN PKCS7-----"; cat "$tmp/$leaf.b64"; echo; echo "-----END PKCS7-----"; } |
		sed '/^$/d' >"$tmp/$leaf.pem"
	if openssl smime -verify -in "$tmp/$leaf.pem" -inform PEM -content "$doc" \
		-certfile "$cert" -noverify -out "$tmp/$leaf.out" 2>"$tmp/$leaf.err"; then
		ok "$leaf verifies with openssl smime -verify -content document"
	else
		bad "$leaf does not verify" "$(head -n 3 "$tmp/$leaf.err")"
	fi
	# AWS also documents printing the embedded document back
	if openssl smime -verify -in "$tmp/$leaf.pem" -inform PEM -certfile "$cert" -noverify \
		-out "$tmp/$leaf.embedded" 2>/dev/null && cmp -s "$tmp/$leaf.embedded" "$doc"; then
		ok "$leaf embeds the exact document bytes"
	else
		bad "$leaf: embedded content differs from the served document"
	fi
	if openssl smime -verify -in "$tmp/$leaf.pem" -inform PEM -content "$tmp/tampered" \
		-certfile "$cert" -noverify -out /dev/null 2>/dev/null; then
		bad "$leaf also verifies a tampered document"
	else
		ok "$leaf rejects a tampered document"
	fi
done

# the other helper's verifier, if present
if [ -x "$root/tests/identity_verify.sh" ] || [ -f "$root/tests/identity_verify.sh" ]; then
	if bash "$root/tests/identity_verify.sh" "$url" "$cert" >"$tmp/iv.out" 2>&1; then
		ok "tests/identity_verify.sh $url CERT"
	else
		bad "tests/identity_verify.sh failed" "$(tail -n 8 "$tmp/iv.out")"
	fi
else
	skp "tests/identity_verify.sh not present"
fi

finish
