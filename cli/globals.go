package cli

import (
	"os"
)

// Global flags of the berth command line (not of `berth runtime`, which
// keeps runc's own --root).
var globals struct {
	root        string // persistent state: image store, snapshots, metadata
	runroot     string // runtime state (tmpfs-like)
	snapshotter string // erofs, overlay or native
}

// Defaults of the global flags.
const (
	DefaultRoot        = "/var/lib/berth"
	DefaultRunRoot     = "/run/berth"
	DefaultSnapshotter = "erofs"
)

func init() {
	pf := Root.PersistentFlags()
	pf.StringVar(&globals.root, "root", DefaultRoot, "root directory of berth's persistent state (images, snapshots)")
	pf.StringVar(&globals.runroot, "runroot", DefaultRunRoot, "root directory of berth's runtime state")
	sn := os.Getenv("BERTH_SNAPSHOTTER")
	if sn == "" {
		sn = DefaultSnapshotter
	}
	pf.StringVar(&globals.snapshotter, "snapshotter", sn, "snapshotter for image layers: erofs, overlay or native (env BERTH_SNAPSHOTTER)")
}
