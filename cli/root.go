// Package cli holds berth's command line: cobra commands, flags and output
// formatting over the packages below it. It holds no container logic.
package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/cli/rtcli"
)

// Docker-compatible exit codes for failures of berth itself.
const (
	ExitEngine     = 125 // the engine failed
	ExitCannotExec = 126 // the command cannot be invoked
	ExitNotFound   = 127 // the command was not found
)

// Root is berth's top-level command. Feature files add their subcommands to it
// from init functions, so each command lives beside its siblings without a
// central list to edit.
var Root = &cobra.Command{
	Use:           "berth",
	Short:         "berth: a container stack in one binary",
	SilenceUsage:  true,
	SilenceErrors: true,
}

// ExitError carries a specific exit status out of a command (shared with
// the runtime's command line).
type ExitError = rtcli.ExitError

// Main runs the berth command line and returns the process exit status.
func Main(args []string) int {
	Root.SetArgs(args)
	return run(Root)
}

func run(c *cobra.Command) int { return rtcli.Execute(c, ExitEngine) }
