#!/usr/bin/env bash
# demo.sh - the main job, from a fresh machine: build berth, make a local
# test image (an OCI bundle from Debian's busybox-static), and run containers
# from it with berth's OCI runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${DEMO_DIR:-/tmp/berth-demo}
rm -rf "$B"; mkdir -p "$B/rootfs/bin" "$B/rootfs/etc"
cp /bin/busybox "$B/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [[ $a == busybox ]] || ln -sf busybox "$B/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$B/rootfs/etc/passwd"
./bin/berth runtime spec --bundle "$B"
jq '.process.terminal = false | .process.args = ["/bin/sh", "-c", "echo \"hello from $(hostname): pid $$, $(id), $(grep -c . /proc/self/mountinfo) mounts\"; uname -sr"]' \
  "$B/config.json" > "$B/config.json.new" && mv "$B/config.json.new" "$B/config.json"
R="./bin/berth-runc --root /run/berth-demo"
echo "\$ berth runtime run --bundle $B demo"
$R run --bundle "$B" demo
echo "\$ berth runtime run -d ... ; exec ; kill ; delete"
jq '.process.args = ["/bin/sleep", "60"]' "$B/config.json" > "$B/c" && mv "$B/c" "$B/config.json"
$R run -d --bundle "$B" demo2 </dev/null >/dev/null 2>&1
$R list
$R exec demo2 /bin/sh -c 'echo "exec sees: $(cat /proc/1/cmdline | tr "\0" " ")"'
$R kill demo2 KILL
sleep 0.2
$R delete -f demo2
echo "demo done"
