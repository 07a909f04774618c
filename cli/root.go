// Package cli holds berth's command line: cobra commands, flags and output
// formatting over the packages below it. It holds no container logic.
package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
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

// ExitError carries a specific exit status out of a command.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Main runs the berth command line and returns the process exit status.
func Main(args []string) int {
	Root.SetArgs(args)
	return run(Root)
}

func run(c *cobra.Command) int { return runWith(c, ExitEngine) }

// runWith executes c; errors without their own status exit with def.
func runWith(c *cobra.Command, def int) int {
	err := c.Execute()
	if err == nil {
		return 0
	}
	ee, ok := err.(*ExitError)
	if !ok {
		ee, ok = asExit(err)
	}
	if ok {
		if ee.Err != nil {
			fmt.Fprintf(os.Stderr, "berth: %v\n", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(os.Stderr, "berth: %v\n", err)
	return def
}
