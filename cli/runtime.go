package cli

import "github.com/berth-dev/berth/cli/rtcli"

// addRuntimeCommands adds `berth runtime` (runc's command line).
func addRuntimeCommands() { Root.AddCommand(rtcli.New("runtime")) }

// RuntimeMain runs the runc-compatible command line (berth invoked as runc).
func RuntimeMain(args []string) int { return rtcli.Main(args) }
