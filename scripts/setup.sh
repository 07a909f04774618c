#!/usr/bin/env bash
# setup.sh - install what berth's build, tests, conformance and benchmarks need
# on a fresh Debian 12 machine (run as root). Idempotent.
set -euo pipefail
pkgs=(
  busybox-static        # rootfs for test containers
  libseccomp-dev libc6-dev  # seccomp compiler (cgo); static libseccomp.a and libc.a for bin/
  pkg-config gcc make jq
  musl-tools            # bin/berth-init, the runtime's init stage without glibc (mk/init.mk)
  runc crun             # peers for benchmarks
  skopeo umoci          # image interop tests
  docker-registry       # real registry for pull/push tests
  containernetworking-plugins
  erofs-utils squashfs-tools
  criu
  iproute2 iptables
  debootstrap pigz openssl curl   # image corpus of make bench-pull (shared/bench/images)
  podman conmon containerd docker.io  # engines driving berth-runc (make engines)
  fuse-overlayfs slirp4netns netavark aardvark-dns uidmap util-linux catatonit
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  # Install daemons (dockerd, containerd) without starting them: the tests
  # start private instances, and the host's network must stay untouched.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# go on PATH
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
go version
