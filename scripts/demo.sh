#!/usr/bin/env bash
# demo.sh - the main job, from a fresh machine: build berth, make a local
# test image (an OCI bundle from Debian's busybox-static), and run containers
# from it with berth's OCI runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${DEMO_DIR:-/tmp/berth-demo}
# EROFS layer images stay mounted while their snapshots exist
unmount_under() { grep -o " $1/[^ ]*" /proc/self/mounts | sort -r | xargs -r umount -l 2>/dev/null || true; }
unmount_under "$B"
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

# The engine: a local busybox image (umoci + skopeo), then containers from it.
I=$B/image
mkdir -p "$I"
umoci init --layout "$I/oci" >/dev/null
umoci new --image "$I/oci:latest" >/dev/null
umoci insert --rootless=false --image "$I/oci:latest" "$B/rootfs" / >/dev/null
umoci config --image "$I/oci:latest" --config.cmd /bin/sh \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --os linux --architecture amd64 >/dev/null
skopeo copy -q "oci:$I/oci:latest" "docker-archive:$I/busybox.tar:localhost/demo-busybox:latest"
E="./bin/berth --root $B/root --runroot /run/berth-demo-engine"
echo "\$ berth load -i busybox.tar"
$E load -i "$I/busybox.tar"
echo "\$ berth run --rm demo-busybox ..."
$E run --rm localhost/demo-busybox sh -c 'echo "hello from $(hostname) at $(ip -4 -o addr show eth0 | awk "{print \$4}")"'
echo "\$ berth run -d -p 127.0.0.1::80 --name web demo-busybox httpd ..."
$E run -d -p 127.0.0.1::80 --name web localhost/demo-busybox sh -c 'mkdir -p /www && echo "served by berth" > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
$E ps
sleep 0.5
port=$($E port web 80)
echo "\$ wget http://$port/"
busybox timeout 5 busybox wget -qO- "http://$port/"
$E rm -f web >/dev/null
$E system reset -f # containers, images, the demo's bridge and firewall chains
echo "demo done"
