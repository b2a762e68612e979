#!/bin/sh
# The Debian packages that hold the shared libraries BINARY is linked against,
# one per line, sorted ("libssl3:amd64"...).  The Containerfile's runtime stage
# installs exactly these, so a library added to the build (a new pkg-config
# module in the Makefile) reaches the image without editing the Containerfile.
# Libraries loaded with dlopen (libcurl, libnftables) are not linked: the
# Containerfile names their packages itself.
#   scripts/runtime-packages.sh ./gimme-aws-mini
set -eu

[ $# -eq 1 ] || { echo "usage: $0 BINARY" >&2; exit 64; }
[ -x "$1" ] || { echo "$0: $1: not an executable" >&2; exit 64; }

out=$(ldd "$1") || { echo "$0: ldd $1 failed" >&2; exit 71; }
if printf '%s\n' "$out" | grep -q 'not found'; then
	printf '%s\n' "$out" | grep 'not found' >&2
	exit 71
fi
# "libssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x...)": the path.  With
# Debian's merged /usr, dpkg knows some files by their /lib name and others
# by their /usr/lib name: ask for both.
libs=$(printf '%s\n' "$out" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
pkgs=""
for lib in $libs; do
	pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$(realpath "$lib")" 2>/dev/null) || {
		echo "$0: no Debian package holds $lib" >&2
		exit 71
	}
	pkgs="$pkgs${pkg%%: *}
"
done
printf '%s' "$pkgs" | sort -u
