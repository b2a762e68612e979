#!/bin/sh
# Install the Debian 12 packages a target needs, and only the missing ones.
#   scripts/deps.sh build    compiler and libraries
#   scripts/deps.sh test     build + unit, wire, fuzz and real-client tests, and
#                            the container image's (podman, debootstrap)
#   scripts/deps.sh bench    build + wrk and nginx
#   scripts/deps.sh image    podman and debootstrap, for `make image` (the build
#                            itself runs inside the image's build stage)
set -eu

build="gcc make pkg-config libc6-dev libssl-dev libjansson-dev libcurl4-openssl-dev libexpat1-dev libyaml-dev
       libseccomp-dev"
# podman builds with chroot isolation as root: no uidmap, slirp4netns or
# fuse-overlayfs needed; debootstrap makes the Debian 12 base image where no
# registry can be reached (scripts/image.sh)
image="podman debootstrap"
test="libcmocka-dev clang libclang-rt-14-dev python3 python3-botocore python3-boto3
      awscli cloud-init amazon-ec2-utils curl openssl iproute2 nftables iptables
      procps python3-yaml python3-kubernetes strace libcap2-bin $image"
bench="wrk nginx-light valgrind"

case "${1:-build}" in
build) want="$build" ;;
test)  want="$build $test" ;;
bench) want="$build $bench" ;;
image) want="$image" ;;
*) echo "usage: $0 build|test|bench|image" >&2; exit 64 ;;
esac
# Node.js for the JavaScript SDK tests: keep an existing install (it may come
# from outside Debian); otherwise take Debian's.
if [ "${1:-build}" = test ]; then
	command -v node >/dev/null 2>&1 || want="$want nodejs"
	command -v npm >/dev/null 2>&1 || want="$want npm"
fi

missing=""
for p in $want; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$s" in *" installed") ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: not root; install these packages:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
