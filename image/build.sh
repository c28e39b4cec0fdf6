#!/usr/bin/env bash
# Build kubekeeper's image with buildah, without any container registry:
#   1. the wheel from this repository, plus constraints pinning the dependency versions the tests ran with;
#   2. a Debian trixie minbase made with debootstrap from Debian's packages (once; kept as BASE_IMAGE),
#      unless BASE names a registry image (e.g. BASE=docker.io/library/debian:trixie-slim);
#   3. `buildah bud --isolation chroot` of the Containerfile.
# Environment: IMAGE (default localhost/kubekeeper:<version>), BASE, BASE_IMAGE, DEBIAN_MIRROR, PY.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
VERSION=$("$PY" -c 'from importlib.metadata import version; print(version("kubekeeper"))')
IMAGE=${IMAGE:-localhost/kubekeeper:$VERSION}
BASE_IMAGE=${BASE_IMAGE:-localhost/kubekeeper-base:trixie}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
started=$SECONDS

command -v buildah >/dev/null || { echo "image: buildah is not installed (Debian package buildah)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "image: run as root (buildah --isolation chroot)" >&2; exit 2; }

echo "image: wheel and constraints"
rm -rf build/image
mkdir -p build/image
"$PY" -m pip wheel --quiet --no-deps --wheel-dir build/image . >/dev/null
"$PY" -m pip freeze --exclude-editable --all | grep -E '^[A-Za-z0-9_.-]+==' > build/image/constraints.txt

if [ -z "${BASE:-}" ]; then
    if ! buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
        command -v debootstrap >/dev/null || { echo "image: debootstrap is not installed (or set BASE=<registry image>)" >&2; exit 2; }
        echo "image: base $BASE_IMAGE from $DEBIAN_MIRROR (debootstrap --variant=minbase trixie)"
        rootfs=$(mktemp -d /var/tmp/kubekeeper-rootfs.XXXXXX)
        trap 'rm -rf "$rootfs"' EXIT
        debootstrap --variant=minbase trixie "$rootfs" "$DEBIAN_MIRROR" >"$rootfs.log" 2>&1 \
            || { tail -20 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 3; }
        rm -f "$rootfs.log"
        cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $DEBIAN_MIRROR trixie main
deb $DEBIAN_MIRROR trixie-updates main
deb ${DEBIAN_MIRROR%/debian}/debian-security trixie-security main
SOURCES
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
        # slim, as Debian's own -slim images: no manuals, translations or docs but the copyright files
        find "$rootfs"/usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
        rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
        ctr=$(buildah from scratch)
        mnt=$(buildah mount "$ctr")
        cp -a "$rootfs"/. "$mnt"/
        buildah umount "$ctr" >/dev/null
        buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash "$ctr"
        buildah commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null
        rm -rf "$rootfs"
        trap - EXIT
    fi
    BASE=$BASE_IMAGE
fi

echo "image: $IMAGE from $BASE"
# pip in the build stage trusts what this host's pip trusts (PIP_CERT, else the system bundle)
ca_bundle=${PIP_CERT:-$("$PY" -m pip config get global.cert 2>/dev/null || true)}
ca_bundle=${ca_bundle:-/etc/ssl/certs/ca-certificates.crt}
buildah bud --quiet --isolation chroot --build-arg "BASE=$BASE" --secret "id=ca-bundle,src=$ca_bundle" --tag "$IMAGE" --file Containerfile . >/dev/null
size=$(buildah images --format '{{.Size}}' "$IMAGE" | head -1)
echo "image: built $IMAGE ($size) in $((SECONDS - started)) s"
