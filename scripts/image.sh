#!/bin/sh
# Build the container image from Containerfile (`make image` runs this).
#
#   scripts/image.sh [TAG]        default gimme-aws-mini:0.1.0, the manifests' image
#
# The builder: IMAGE_BUILDER (podman, docker or buildah), else the first of
# them that works here (`podman info`, `docker info`: an engine answers,
# `buildah info`).  podman and buildah build with chroot isolation and the
# host's network (--isolation chroot --network host): they need no OCI
# runtime, so they work where crun or runc cannot start a container; and
# never pull (--pull=never): the base images are present by then.
#
# The base images (the Containerfile's FROM lines, Debian 12 and its slim
# variant): those already in the builder's local storage are used as they are.
# A missing one is pulled; where no registry can be reached it is made here
# with debootstrap (root only) from the Debian mirror this machine's apt uses:
# a minbase bookworm with the apt sources of the official image (bookworm,
# bookworm-updates, bookworm-security), and for -slim the official slim
# variant's dpkg exclusions (no manuals, documentation or translations).  It is
# imported under the FROM line's own name, so the Containerfile is unchanged,
# and stays in the builder's storage: only the first build makes it (minutes;
# `podman rmi docker.io/library/debian:12 docker.io/library/debian:12-slim`
# to have them made again, with the mirror's newer packages).
#
# Prints the image's name and size last: "image: NAME SIZE".
#
# Environment: IMAGE_BUILDER, DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR (default:
# this machine's apt sources, else deb.debian.org), PULL_TIMEOUT (60 s).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TAG=${1:-gimme-aws-mini:0.1.0}
PULL_TIMEOUT=${PULL_TIMEOUT:-60}
SUITE=bookworm

say() { echo "image: $*" >&2; }
die() { echo "image: $*" >&2; exit 1; }

# ------------------------------------------------------------- the builder

works() {
	command -v "$1" >/dev/null 2>&1 && "$1" info >/dev/null 2>&1
}
if [ -n "${IMAGE_BUILDER:-}" ]; then
	B=$IMAGE_BUILDER
	case $B in podman|docker|buildah) ;; *) die "IMAGE_BUILDER: podman, docker or buildah" ;; esac
	works "$B" || die "$B does not work here ($B info fails)"
else
	B=""
	for b in podman docker buildah; do
		if works "$b"; then B=$b; break; fi
	done
	[ -n "$B" ] || die "no working builder: install podman (scripts/deps.sh image), or docker or buildah"
fi

have_image() {
	case $B in
	buildah) buildah inspect --type image "$1" >/dev/null 2>&1 ;;
	*) "$B" image inspect "$1" >/dev/null 2>&1 ;;
	esac
}

# ------------------------------------------------------------- base images

# mirror KIND: the URI of this machine's apt sources for the Debian archive
# (KIND "debian") or its security archive ("debian-security").
mirror() {
	cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
	    sed -n 's/^URIs:[[:space:]]*//p; s/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' |
	    tr ' ' '\n' | grep -E "/$1/?\$" | head -n 1
}

WORK=""
cleanup() {
	[ -n "$WORK" ] || return 0
	# debootstrap mounts /proc and /sys in the tree while it runs
	for m in proc sys dev/pts; do
		umount -l "$WORK/rootfs/$m" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# import TREE NAME: the tree as a one-layer image called NAME.
import_tree() {
	msg="Debian 12 ($SUITE) made with debootstrap by gimme-aws-mini's scripts/image.sh"
	tar -C "$1" --numeric-owner --xattrs --xattrs-include='*' \
	    --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* -c . >"$WORK/rootfs.tar"
	case $B in
	podman|docker)
		"$B" import --change 'CMD ["bash"]' \
		    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		    --message "$msg" "$WORK/rootfs.tar" "$2" >/dev/null ;;
	buildah)
		c=$(buildah from scratch)
		buildah add "$c" "$WORK/rootfs.tar" / >/dev/null
		buildah config --cmd bash \
		    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
		buildah commit --rm "$c" "$2" >/dev/null ;;
	esac
	rm -f "$WORK/rootfs.tar"
}

# The official slim variant: dpkg leaves out manuals, documentation and
# translations (copyright files stay), and what is there already goes.
slim() {
	cat >"$1/etc/dpkg/dpkg.cfg.d/docker" <<-'EOF'
	# as in the official debian:*-slim images
	path-exclude /usr/share/doc/*
	path-include /usr/share/doc/*/copyright
	path-exclude /usr/share/man/*
	path-exclude /usr/share/groff/*
	path-exclude /usr/share/info/*
	path-exclude /usr/share/lintian/*
	path-exclude /usr/share/linda/*
	path-exclude /usr/share/locale/*
	EOF
	find "$1/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
	find "$1/usr/share/doc" -mindepth 1 -type d -empty -delete
	rm -rf "$1/usr/share/man/"* "$1/usr/share/groff/"* "$1/usr/share/info/"* \
	    "$1/usr/share/lintian/"* "$1/usr/share/linda/"* "$1/usr/share/locale/"*
}

# make_base NAME...: debootstrap once, import as each NAME (Debian 12 or its slim).
make_base() {
	[ "$(id -u)" -eq 0 ] || die "making the Debian 12 base image needs root (debootstrap)"
	command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (scripts/deps.sh image)"
	m=${DEBIAN_MIRROR:-$(mirror debian)}
	m=${m:-http://deb.debian.org/debian}
	sm=${DEBIAN_SECURITY_MIRROR:-$(mirror debian-security)}
	sm=${sm:-http://deb.debian.org/debian-security}
	WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/gimme-image.XXXXXX")
	r=$WORK/rootfs
	t0=$(date +%s)
	say "debootstrap --variant=minbase $SUITE from $m (the first time only: minutes)"
	if ! debootstrap --variant=minbase "$SUITE" "$r" "$m" >"$WORK/debootstrap.log" 2>&1; then
		tail -n 20 "$WORK/debootstrap.log" >&2
		[ -f "$r/debootstrap/debootstrap.log" ] && tail -n 20 "$r/debootstrap/debootstrap.log" >&2
		die "debootstrap failed"
	fi
	# the official image's apt sources and its guard against starting services
	rm -f "$r/etc/apt/sources.list"
	cat >"$r/etc/apt/sources.list.d/debian.sources" <<-EOF
	Types: deb
	URIs: $m
	Suites: $SUITE $SUITE-updates
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

	Types: deb
	URIs: $sm
	Suites: $SUITE-security
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
	chmod 755 "$r/usr/sbin/policy-rc.d"
	rm -rf "$r/var/lib/apt/lists/"* "$r/var/cache/apt/"*.bin \
	    "$r/var/cache/apt/archives/"*.deb "$r/debootstrap" \
	    "$r/var/cache/debconf/"*-old "$r/var/lib/dpkg/"*-old
	find "$r/var/log" -type f -exec truncate -s 0 {} +
	: >"$r/etc/hostname"
	for name in "$@"; do
		case $name in *-slim) ;; *) import_tree "$r" "$name"; say "made $name" ;; esac
	done
	for name in "$@"; do
		case $name in *-slim) slim "$r"; import_tree "$r" "$name"; say "made $name" ;; esac
	done
	say "base images made in $(($(date +%s) - t0))s"
	cleanup
	WORK=""
}

# Only Debian 12 bases can be made here.
want=""
for name in $(sed -n 's/^FROM[[:space:]]\{1,\}\([^[:space:]]\{1,\}\).*/\1/p' "$ROOT/Containerfile"); do
	have_image "$name" && continue
	if timeout "$PULL_TIMEOUT" "$B" pull -q "$name" >/dev/null 2>"${TMPDIR:-/tmp}/gimme-pull.$$"; then
		rm -f "${TMPDIR:-/tmp}/gimme-pull.$$"
		say "pulled $name"
		continue
	fi
	why=$(tail -n 1 "${TMPDIR:-/tmp}/gimme-pull.$$" 2>/dev/null || true)
	rm -f "${TMPDIR:-/tmp}/gimme-pull.$$"
	say "cannot pull $name (${why:-time-out}): making it"
	case $name in
	docker.io/library/debian:12|docker.io/library/debian:12-slim) want="$want $name" ;;
	*) die "$name is no Debian 12 image this script can make" ;;
	esac
done
# shellcheck disable=SC2086
[ -z "$want" ] || make_base $want

# ------------------------------------------------------------- the build

t0=$(date +%s)
case $B in
podman)  set -- podman build --isolation chroot --network host --pull=never ;;
buildah) set -- buildah bud --isolation chroot --network host --pull=never ;;
docker)  set -- docker build --network host ;;
esac
say "$* -t $TAG"
"$@" -f "$ROOT/Containerfile" -t "$TAG" "$ROOT" >&2
say "built in $(($(date +%s) - t0))s"

case $B in
buildah) size=$(buildah inspect --type image --format '{{.Size}}' "$TAG" 2>/dev/null || echo "?") ;;
*) size=$("$B" image inspect --format '{{.Size}}' "$TAG") ;;
esac
case $size in
*[!0-9]*|"") echo "image: $TAG" ;;
*) echo "image: $TAG $(numfmt --to=iec-i --suffix=B "$size") ($size bytes)" ;;
esac
