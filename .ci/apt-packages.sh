#!/usr/bin/env bash
# Debian packages for kubekeeper and its tests, as root on Debian bookworm (or newer).
#
# restic 0.18 and etcd 3.5.16 come from Debian trixie: both depend only on libc6 >= 2.34, so on
# bookworm they install from a trixie source pinned at priority 100 (nothing else is ever taken
# from trixie unless asked with -t trixie). The etcd package's service is kept from starting.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
SOURCE=/etc/apt/sources.list.d/kubekeeper-trixie.sources
PIN=/etc/apt/preferences.d/kubekeeper-trixie
BOOKWORM_PACKAGES=(docker-registry openssh-server openssh-client skopeo fio rsync apache2-utils iproute2 util-linux procps
                   buildah debootstrap)  # the image (make image, tests/e2e/test_image.py)
TRIXIE_PACKAGES=(restic etcd-server etcd-client)

want_source='Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'
want_pin='Package: *
Pin: release n=trixie
Pin-Priority: 100'

installed_version() { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'; }
missing=()
for p in "${BOOKWORM_PACKAGES[@]}"; do [ -n "$(installed_version "$p")" ] || missing+=("$p"); done
trixie_missing=()
for p in "${TRIXIE_PACKAGES[@]}"; do
  v=$(installed_version "$p")
  case "$p" in restic) need=0.18 ;; *) need=3.5.16 ;; esac
  if [ -z "$v" ] || ! dpkg --compare-versions "$v" ge "$need"; then trixie_missing+=("$p"); fi
done
changed=0
if [ "$(cat "$SOURCE" 2>/dev/null)" != "$want_source" ]; then printf '%s\n' "$want_source" | $SUDO tee "$SOURCE" >/dev/null; changed=1; fi
if [ "$(cat "$PIN" 2>/dev/null)" != "$want_pin" ]; then printf '%s\n' "$want_pin" | $SUDO tee "$PIN" >/dev/null; changed=1; fi
if [ ${#missing[@]} -eq 0 ] && [ ${#trixie_missing[@]} -eq 0 ] && [ $changed = 0 ]; then exit 0; fi
$SUDO apt-get update -qq
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing from bookworm: ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ${#trixie_missing[@]} -gt 0 ]; then
  echo "installing from trixie: ${trixie_missing[*]}"
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then  # no service starts during the install (etcd must not run)
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  $SUDO apt-get install -y -qq --no-install-recommends -t trixie "${TRIXIE_PACKAGES[@]}" || { [ $made_policy = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ $made_policy = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
  $SUDO systemctl disable --now etcd 2>/dev/null || true
fi
