#!/usr/bin/env bash
# Debian packages the release pipeline runs (no Docker engine: buildah builds, podman runs, skopeo copies and
# signs, docker-registry stands in for Harbor). Installs only what is missing, and only as root.
set -euo pipefail

packages=(buildah podman skopeo umoci runc mmdebstrap docker-registry gnupg)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "The deploy tools need Debian packages: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# podman 4.3 on this kind of host: crun fails on hybrid cgroups, systemd cgroups are absent, and the hard
# nofile limit is 20000. Written only when absent: a machine's own configuration wins.
conf=/etc/containers/containers.conf
if [[ ! -e $conf && $(id -u) -eq 0 ]]; then
  mkdir -p /etc/containers
  cat >"$conf" <<'CONF'
# Written by todostack's deploy/release/host-setup.sh (only because no containers.conf existed).
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi
