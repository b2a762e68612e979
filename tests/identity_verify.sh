#!/bin/sh
# identity_verify.sh: verify a server's instance identity signatures with the
# openssl command line, the way AWS's documentation tells users to
# (contract §9.2).
#
#   tests/identity_verify.sh URL CERTFILE
#
#   URL       the server, e.g. http://127.0.0.1:1338
#   CERTFILE  the certificates written by --identity-certs (PEM, in order:
#             signature's, pkcs7's, rsa2048's)
#
# Fetches /latest/dynamic/instance-identity/{document,signature,pkcs7,rsa2048}
# (with an IMDSv2 token when the server issues one), then checks:
#   signature  openssl dgst -sha256 -verify over the exact document bytes
#   pkcs7      openssl smime -verify -noverify -certfile: prints the document
#   rsa2048    the same
# Prints one line per check; exits 0 only when all three verify.

set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 URL CERTFILE" >&2
	exit 64
fi
url=${1%/}
certs=$2
base=$url/latest/dynamic/instance-identity
ttl_header="X-aws-ec2-metadata-token-ttl-seconds: 60"

for tool in curl openssl base64 awk cmp; do
	command -v "$tool" >/dev/null 2>&1 || { echo "FAIL: $tool not found" >&2; exit 69; }
done
[ -r "$certs" ] || { echo "FAIL: cannot read $certs" >&2; exit 66; }

tmp=$(mktemp -d) || exit 71
trap 'rm -rf "$tmp"' EXIT INT TERM

# Split the bundle: cert1.pem (signature), cert2.pem (pkcs7), cert3.pem (rsa2048).
awk -v dir="$tmp" '
	/-----BEGIN CERTIFICATE-----/ { n++; f = dir "/cert" n ".pem" }
	f != "" { print > f }
	/-----END CERTIFICATE-----/ { close(f); f = "" }
' "$certs"
for i in 1 2 3; do
	if [ ! -s "$tmp/cert$i.pem" ]; then
		echo "FAIL: $certs holds fewer than 3 certificates" >&2
		exit 65
	fi
done

# Loopback only: never through a proxy from the environment.
get() {
	curl --silent --show-error --fail --max-time 5 --noproxy '*' "$@"
}

# IMDSv2 when available; an IMDSv1-only server is fine too.
token=$(get -X PUT -H "$ttl_header" "$url/latest/api/token" 2>/dev/null) || token=
fetch() {
	if [ -n "$token" ]; then
		get -H "X-aws-ec2-metadata-token: $token" -o "$tmp/$1" "$base/$1"
	else
		get -o "$tmp/$1" "$base/$1"
	fi
}
for leaf in document signature pkcs7 rsa2048; do
	if ! fetch "$leaf"; then
		echo "FAIL: fetching $base/$leaf"
		exit 1
	fi
done

failed=0

# signature: RSA over SHA-256 of the document
if openssl x509 -in "$tmp/cert1.pem" -pubkey -noout >"$tmp/pub1.pem" 2>"$tmp/err" &&
    base64 -d "$tmp/signature" >"$tmp/signature.bin" 2>>"$tmp/err" &&
    openssl dgst -sha256 -verify "$tmp/pub1.pem" -signature "$tmp/signature.bin" \
    "$tmp/document" >>"$tmp/err" 2>&1; then
	echo "ok: signature (RSA, SHA-256) verifies over the document"
else
	echo "FAIL: signature: $(tr '\n' ' ' <"$tmp/err")"
	failed=1
fi

# pkcs7 and rsa2048: SignedData embedding the document; AWS serves them
# without the BEGIN/END lines, which the user adds.
check_pkcs7() {
	leaf=$1 cert=$2 what=$3
	{
		echo "-----BEGIN PKCS7-----"
		cat "$tmp/$leaf"
		echo
		echo "-----END PKCS7-----"
	} >"$tmp/$leaf.pem"
	if ! openssl smime -verify -in "$tmp/$leaf.pem" -inform PEM -certfile "$cert" \
	    -noverify -out "$tmp/$leaf.out" >"$tmp/err" 2>&1; then
		echo "FAIL: $leaf: $(tr '\n' ' ' <"$tmp/err")"
		failed=1
	elif ! cmp -s "$tmp/$leaf.out" "$tmp/document"; then
		echo "FAIL: $leaf verifies but does not contain the document"
		failed=1
	else
		echo "ok: $leaf ($what) verifies and contains the document"
	fi
}
check_pkcs7 pkcs7 "$tmp/cert2.pem" "DSA, SHA-1"
check_pkcs7 rsa2048 "$tmp/cert3.pem" "RSA, SHA-256"

exit $failed
