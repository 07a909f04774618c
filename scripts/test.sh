#!/usr/bin/env bash
# test.sh - berth's whole test suite (as root): vet + gofmt, every Go test
# (unit, root/kernel integration against real containers, a real
# docker-registry, skopeo, overlay/EROFS mounts; CLI end-to-end tests of the
# built binary), then real engines (podman, containerd, dockerd) using
# bin/berth-runc as their runc, then the OCI runtime-tools conformance suite,
# which must pass at least as many programs as runc does on this host.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
export GOFLAGS=-mod=mod
export GOEXPERIMENT=jsonv2 # as the Makefile builds
[[ $(id -u) == 0 ]] || { echo "test.sh: run as root (the tests run real containers)" >&2; exit 2; }

echo "== go vet"
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [[ -n $unformatted ]]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi

echo "== go test"
# -p 2: packages run two at a time on this 2-CPU machine; each package's
# containers use their own ids and temp dirs.
# The network package's leak tests count host-wide links and iptables rules,
# so it runs alone, after the others (which create veths and rules too).
# The CLI end-to-end tests (cmd/berth) drive the binaries make build made
# (musl-linked, bin/berth-init beside), not builds of their own.
BERTH_E2E_BIN=$PWD/bin go test -p 2 -count=1 -timeout 30m $(go list ./... | grep -v '/network$') 2>&1 | tee /tmp/berth-go-test.log
status=${PIPESTATUS[0]}
go test -count=1 -timeout 15m ./network/ 2>&1 | tee -a /tmp/berth-go-test.log
((status == 0)) && status=${PIPESTATUS[0]}
passed=$(grep -c '^ok ' /tmp/berth-go-test.log || true)
failed=$(grep -c '^FAIL\s' /tmp/berth-go-test.log || true)
echo "go test: $passed packages passed, $failed failed"
((status == 0)) || exit "$status"

echo "== engines: podman, containerd and dockerd driving bin/berth-runc"
bash scripts/engines.sh

echo "== OCI runtime-tools conformance"
# runc 1.1.5 passes 32 of the 58 programs on this kind of host with the
# strict count (scripts/conformance-runc.txt; 36 with the issue's lenient count);
# berth passes 38 here: require at least 36.
MIN_PASS=${MIN_PASS:-36} bash scripts/conformance.sh
