// Package cli holds berth's command line: cobra commands, flags and output
// formatting over the packages below it. It holds no container logic.
package cli

import (
	"strings"

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
	addCommands(args)
	Root.SetArgs(args)
	return run(Root)
}

// commandSets add berth's commands to Root, in help order. They run when
// Main needs them rather than at init: building every command with its
// flags costs about a millisecond, paid by every container start (see
// addCommands).
var commandSets = []func(){
	addContainerExecCommands, addContainerFsCommands, addContainerImportCommands,
	addContainerInspectCommands, addContainerLifecycleCommands, addContainerOpsCommands,
	addContainerPsCommands, addRunCommands, addContainerGroup,
	addImageInspectCommands, addHistoryCommands, addImagesCommands, addImageGroup,
	addTagCommands, addRmiCommands, addImagePruneCommands, addPushCommands,
	addSaveCommands, addLoadCommands, addImageExportCommands, addImagePullCommands,
	addLoginCommands, addNetworkCommands, addSystemCommands, addVolumeCommands,
	addRuntimeCommands,
}

// addCommands adds to Root what args need: only `run` for a plain
// `berth [GLOBAL FLAGS] run ...` (the command every container start goes
// through), else every command, for help, completion and suggestions.
func addCommands(args []string) {
	if topCommand(args) == "run" {
		Root.AddCommand(newRunCmd())
		return
	}
	for _, add := range commandSets {
		add()
	}
}

// topCommand is the first word of args after berth's global flags, or ""
// when args hold anything else before it (another flag, help).
func topCommand(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "--root", "--runroot", "--snapshotter":
			i++ // its value
			continue
		}
		if strings.HasPrefix(a, "--root=") || strings.HasPrefix(a, "--runroot=") || strings.HasPrefix(a, "--snapshotter=") {
			continue
		}
		if strings.HasPrefix(a, "-") {
			return ""
		}
		return a
	}
	return ""
}

func run(c *cobra.Command) int { return rtcli.Execute(c, ExitEngine) }
