#!/usr/bin/env bash
# Makes the two base images the Dockerfile takes as build arguments, for a machine that cannot pull any image:
#   - a Debian bookworm base with Python 3.11 (mmdebstrap, minbase), standing in for python:3.11-slim-bookworm;
#   - a uv image holding /uv and /uvx from PyPI's uv wheel, standing in for ghcr.io/astral-sh/uv.
# Both are cached: the root filesystem tarball under .tools/deploy-cache/ (keyed by the day and this script's inputs,
# so security updates arrive daily), the images in buildah's local storage under tags carrying the same key.
# Prints BASE_IMAGE=... and UV_IMAGE=... for the caller.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${DEPLOY_CACHE:-$root/.tools/deploy-cache}
uv_version=${UV_VERSION:-0.13.9}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
packages=python3,ca-certificates,libsqlite3-0,tzdata
# Part of the cache key: a change to how the root filesystem is made must make a new one.
recipe=merged-usr-hook,nodocs,nogconv-v2

mkdir -p "$cache"
key=$(printf '%s\n' "$(date -u +%Y-%m-%d)" "$packages" "$recipe" "$mirror" "$security_mirror" | sha256sum | cut -c1-12)
base_ref=localhost/todostack-base/python:3.11-bookworm-$key
uv_ref=localhost/todostack-base/uv:$uv_version

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

if ! have_image "$base_ref"; then
  tarball=$cache/bookworm-$key.tar
  if [[ ! -s $tarball ]]; then
    echo "base-images: mmdebstrap bookworm ($packages) -> $tarball" >&2
    # merged-usr hook: /usr merged without the usrmerge package (which would drag in 55 MB of Perl). No
    # documentation, and no glibc iconv modules (8 MB; Python's codecs are its own).
    mmdebstrap --quiet --variant=minbase --include="$packages" \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --aptopt='Acquire::Languages "none"' \
      --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/bash-completion/*' \
      --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/gconv/*' \
      bookworm "$cache/partial-$key.tar" \
      "deb $mirror bookworm main" \
      "deb $mirror bookworm-updates main" \
      "deb $security_mirror bookworm-security main" >&2
    mv "$cache/partial-$key.tar" "$tarball"
    # Older days' tarballs are of no further use.
    find "$cache" -maxdepth 1 \( -name 'bookworm-*.tar' -o -name 'partial-*.tar' \) ! -name "bookworm-$key.tar" \
      -exec rm -rf {} +
  fi
  c=$(buildah from scratch)
  buildah add "$c" "$tarball" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
    --cmd '["python3"]' "$c"
  buildah commit --quiet --rm "$c" "$base_ref" >/dev/null
fi

if ! have_image "$uv_ref"; then
  wheels=$cache/uv-$uv_version
  if ! compgen -G "$wheels/uv-$uv_version-*.whl" >/dev/null; then
    echo "base-images: uv $uv_version wheel from PyPI -> $wheels" >&2
    "${PYTHON:-python3}" -m pip download --quiet --no-deps --only-binary=:all: \
      --platform manylinux_2_17_x86_64 --python-version 3.11 --dest "$wheels" "uv==$uv_version" >&2
  fi
  unpacked=$(mktemp -d)
  trap 'rm -rf "$unpacked"' EXIT
  "${PYTHON:-python3}" -m zipfile -e "$(compgen -G "$wheels/uv-$uv_version-*.whl" | head -n1)" "$unpacked"
  chmod 0755 "$unpacked/uv-$uv_version.data/scripts/uv" "$unpacked/uv-$uv_version.data/scripts/uvx"
  c=$(buildah from scratch)
  buildah add "$c" "$unpacked/uv-$uv_version.data/scripts/uv" /uv >/dev/null
  buildah add "$c" "$unpacked/uv-$uv_version.data/scripts/uvx" /uvx >/dev/null
  buildah config --entrypoint '["/uv"]' "$c"
  buildah commit --quiet --rm "$c" "$uv_ref" >/dev/null
fi

echo "BASE_IMAGE=$base_ref"
echo "UV_IMAGE=$uv_ref"
