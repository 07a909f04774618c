// Command berth is a whole container stack in one binary: the OCI runtime
// (`berth runtime ...`, or this binary invoked as `runc`), images, snapshots,
// the engine and its per-container monitor.
package main

import (
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/cli"
	"github.com/berth-dev/berth/oci/initproc"
	// The per-container monitor runs from this package's C constructor.
	_ "github.com/berth-dev/berth/shim"
	// sysmon of this short-lived command sleeps 10 ms, not 20 µs
	_ "github.com/berth-dev/berth/internal/sysmonslack"
)

func main() {
	// Re-exec entry points come first and never touch the CLI: the container
	// init stage is on the critical path of every container start.
	if len(os.Args) > 1 && os.Args[1] == initproc.Arg {
		initproc.Main() // does not return
	}
	name := filepath.Base(os.Args[0])
	if name == "runc" || name == "berth-runc" {
		os.Exit(cli.RuntimeMain(os.Args[1:]))
	}
	os.Exit(cli.Main(os.Args[1:]))
}
