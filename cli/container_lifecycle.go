package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/oci"
)

func addContainerLifecycleCommands() {
	for _, mk := range []func() *cobra.Command{newStartCmd, newStopCmd, newRestartCmd, newKillCmd, newRmCmd, newWaitCmd, newPauseCmd, newUnpauseCmd, newRenameCmd, newAttachCmd} {
		Root.AddCommand(mk())
		containerCmd.AddCommand(mk())
	}
	containerCmd.AddCommand(newCleanupCmd())
}

// eachContainer runs fn for every argument, printing the argument on
// success like Docker, and fails (125... or the first error) if any failed.
func eachContainer(args []string, fn func(e *engine.Engine, ref string) error) error {
	e, err := openEngine()
	if err != nil {
		return err
	}
	var errs []string
	for _, a := range args {
		if err := fn(e, a); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Println(a)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

func newStartCmd() *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	c := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  minArgs(1, "start"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			if attach || interactive {
				if len(args) > 1 {
					return errors.New("you cannot start and attach multiple containers at once")
				}
				e, c, err := openContainer(ctx, args[0])
				if err != nil {
					return err
				}
				code, err := attachAndStart(ctx, e, c, interactive && c.Config.OpenStdin, c.Config.Tty, detachKeys, true, true, false)
				if err != nil {
					return startExit(err)
				}
				if code != 0 {
					return &ExitError{Code: code}
				}
				return nil
			}
			return eachContainer(args, func(e *engine.Engine, ref string) error {
				_, err := e.Start(ctx, ref, engine.StartOptions{})
				return startExit(err)
			})
		},
	}
	c.Flags().BoolVarP(&attach, "attach", "a", false, "attach STDOUT/STDERR and forward signals")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach container's STDIN")
	c.Flags().StringVar(&detachKeys, "detach-keys", "", "override the key sequence for detaching a container")
	return c
}

func stopTimeout(cmd *cobra.Command, secs int) *time.Duration {
	if !cmd.Flags().Changed("time") {
		return nil
	}
	d := time.Duration(secs) * time.Second
	if secs < 0 {
		d = -1
	}
	return &d
}

func newStopCmd() *cobra.Command {
	var secs int
	var sig string
	c := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Long:  "Send the stop signal (SIGTERM or the container's --stop-signal), and SIGKILL after the grace period.",
		Args:  minArgs(1, "stop"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			return eachContainer(args, func(e *engine.Engine, ref string) error {
				return e.StopSignal(ctx, ref, stopTimeout(cmd, secs), sig)
			})
		},
	}
	c.Flags().IntVarP(&secs, "time", "t", 10, "seconds to wait before killing the container")
	c.Flags().StringVarP(&sig, "signal", "s", "", "signal to send to the container")
	return c
}

func newRestartCmd() *cobra.Command {
	var secs int
	c := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  minArgs(1, "restart"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			return eachContainer(args, func(e *engine.Engine, ref string) error {
				return e.Restart(ctx, ref, stopTimeout(cmd, secs))
			})
		},
	}
	c.Flags().IntVarP(&secs, "time", "t", 10, "seconds to wait before killing the container")
	return c
}

func newKillCmd() *cobra.Command {
	var sig string
	c := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  minArgs(1, "kill"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			s, err := oci.ParseSignal(sig)
			if err != nil {
				return fmt.Errorf("invalid signal: %s", sig)
			}
			return eachContainer(args, func(e *engine.Engine, ref string) error {
				return e.Kill(ctx, ref, s)
			})
		},
	}
	c.Flags().StringVarP(&sig, "signal", "s", "KILL", "signal to send to the container")
	return c
}

func newRmCmd() *cobra.Command {
	var o engine.RemoveOptions
	c := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more containers",
		Args:    minArgs(1, "rm"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			return eachContainer(args, func(e *engine.Engine, ref string) error {
				err := e.Remove(ctx, ref, o)
				if o.Force && errors.Is(err, engine.ErrNotFound) {
					return nil // Docker: rm -f of what is not there is no error
				}
				return err
			})
		},
	}
	c.Flags().BoolVarP(&o.Force, "force", "f", false, "force the removal of a running container (uses SIGKILL)")
	c.Flags().BoolVarP(&o.Volumes, "volumes", "v", false, "remove anonymous volumes associated with the container")
	return c
}

func newWaitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  minArgs(1, "wait"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			e, err := openEngine()
			if err != nil {
				return err
			}
			var errs []string
			for _, a := range args {
				c, err := e.Wait(ctx, a)
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Println(c.State.ExitCode)
			}
			if len(errs) > 0 {
				return errors.New(strings.Join(errs, "\n"))
			}
			return nil
		},
	}
}

func newPauseCmd() *cobra.Command {
	return eachCmd("pause", "Pause all processes within one or more containers", (*engine.Engine).Pause)
}

func newUnpauseCmd() *cobra.Command {
	return eachCmd("unpause", "Unpause all processes within one or more containers", (*engine.Engine).Unpause)
}

// eachCmd is a command that applies op to every CONTAINER argument.
func eachCmd(name, short string, op func(*engine.Engine, context.Context, string) error) *cobra.Command {
	return &cobra.Command{
		Use:   name + " CONTAINER [CONTAINER...]",
		Short: short,
		Args:  minArgs(1, name),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			return eachContainer(args, func(e *engine.Engine, ref string) error { return op(e, ctx, ref) })
		},
	}
}

func newRenameCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2, "rename"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine()
			if err != nil {
				return err
			}
			return e.Rename(bg(cmd.Context()), args[0], args[1])
		},
	}
}

func newAttachCmd() *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	c := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  exactArgs(1, "attach"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			e, c, err := openContainer(ctx, args[0])
			if err != nil {
				return err
			}
			if !c.State.Running() {
				return errors.New("You cannot attach to a stopped container, start it first") //nolint:staticcheck // Docker's words
			}
			if c.State.Status == engine.StatusPaused {
				return errors.New("You cannot attach to a paused container, unpause it first") //nolint:staticcheck
			}
			code, err := attachAndStart(ctx, e, c, !noStdin && c.Config.OpenStdin, c.Config.Tty, detachKeys, sigProxy, false, false)
			if err != nil {
				if isDetached(err) {
					return nil
				}
				return err
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach STDIN")
	c.Flags().BoolVar(&sigProxy, "sig-proxy", true, "proxy all received signals to the process")
	c.Flags().StringVar(&detachKeys, "detach-keys", "", "override the key sequence for detaching a container")
	return c
}

// newCleanupCmd is what a container's monitor runs after the container
// exited for good: release its mounts and network, remove it with --rm.
func newCleanupCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "cleanup CONTAINER",
		Short:  "Release the resources of an exited container (run by its monitor)",
		Hidden: true,
		Args:   exactArgs(1, "cleanup"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine()
			if err != nil {
				return err
			}
			err = e.Cleanup(context.Background(), args[0])
			if errors.Is(err, engine.ErrNotFound) {
				return nil
			}
			return err
		},
	}
}
