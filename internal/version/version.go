// Package version holds berth's version, shared by the engine's CLI and
// the runtime's runc-compatible command line.
package version

import "runtime/debug"

// Version is berth's version, set at build time with
// -ldflags "-X github.com/berth-dev/berth/internal/version.Version=...".
var Version = "0.1.0-dev"

// Revision is the VCS commit the binary was built from (7 characters), or
// "unknown" (go build -trimpath outside a checkout, go test).
func Revision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				return s.Value[:7]
			}
		}
	}
	return "unknown"
}
