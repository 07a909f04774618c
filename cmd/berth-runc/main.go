// Command berth-runc is berth's OCI runtime alone, with runc's command
// line: what containerd, Podman, CRI-O and dockerd call for every
// container. It is the same code as `berth runtime`, built without the
// image and engine packages so that its start-up (paid twice per
// container: the runtime and its re-exec'd init stage) stays small.
package main

import (
	"os"

	"github.com/berth-dev/berth/cli/rtcli"
	"github.com/berth-dev/berth/oci/initproc"
	// The engine starts its per-container monitors from this (smaller)
	// binary when it is installed beside berth: fewer pages to map.
	_ "github.com/berth-dev/berth/shim"
	// sysmon of this short-lived command sleeps 10 ms, not 20 µs
	_ "github.com/berth-dev/berth/internal/sysmonslack"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == initproc.Arg {
		initproc.Main() // does not return
	}
	os.Exit(rtcli.Main(os.Args[1:]))
}
