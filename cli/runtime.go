package cli

import "github.com/berth-dev/berth/cli/rtcli"

func init() {
	Root.AddCommand(rtcli.New("runtime"))
}

// RuntimeMain runs the runc-compatible command line (berth invoked as runc).
func RuntimeMain(args []string) int { return rtcli.Main(args) }
