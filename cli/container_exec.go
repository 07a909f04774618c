package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/opts"
	"github.com/berth-dev/berth/shim/logs"
)

func addContainerExecCommands() {
	for _, mk := range []func() *cobra.Command{newExecCmd, newLogsCmd} {
		Root.AddCommand(mk())
		containerCmd.AddCommand(mk())
	}
}

func newExecCmd() *cobra.Command {
	var interactive, tty, detach, privileged bool
	var env, envFile []string
	var user, workdir string
	c := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Example: `  berth exec web ls /
  berth exec -it web sh
  berth exec -u nobody -w /tmp -e A=1 web env`,
		Args: minArgs(2, "exec"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			e, err := openEngine()
			if err != nil {
				return err
			}
			var all []string
			for _, p := range envFile {
				l, err := opts.ParseEnvFile(p)
				if err != nil {
					return err
				}
				all = append(all, l...)
			}
			all = opts.ExpandEnv(append(all, env...), os.LookupEnv)
			o := engine.ExecOptions{Cmd: args[1:], Env: all, User: user, WorkingDir: workdir, Tty: tty, Detach: detach, Privileged: privileged, Stdout: os.Stdout, Stderr: os.Stderr}
			if interactive {
				o.Stdin = os.Stdin
			}
			if tty {
				if interactive && term.IsTerminal(int(os.Stdin.Fd())) {
					if st, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
						defer term.Restore(int(os.Stdin.Fd()), st)
					}
				}
				o.Resize = func(master *os.File) {
					sizePty(master)
					ch := make(chan os.Signal, 1)
					signal.Notify(ch, syscall.SIGWINCH)
					go func() {
						for range ch {
							sizePty(master)
						}
					}()
				}
			}
			code, err := e.Exec(ctx, args[0], o)
			var reported *engine.ReportedError
			if errors.As(err, &reported) {
				return &ExitError{Code: code}
			}
			if err != nil {
				return &ExitError{Code: code, Err: err}
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&interactive, "interactive", "i", false, "keep STDIN open even if not attached")
	fl.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-TTY")
	fl.BoolVarP(&detach, "detach", "d", false, "detached mode: run command in the background")
	fl.BoolVar(&privileged, "privileged", false, "give extended privileges to the command")
	fl.StringArrayVarP(&env, "env", "e", nil, "set environment variables")
	fl.StringArrayVar(&envFile, "env-file", nil, "read in a file of environment variables")
	fl.StringVarP(&user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	fl.StringVarP(&workdir, "workdir", "w", "", "working directory inside the container")
	return c
}

func sizePty(master *os.File) {
	w, h, err := term.GetSize(int(os.Stdout.Fd()))
	if err != nil {
		return
	}
	unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(h), Col: uint16(w)})
}

func newLogsCmd() *cobra.Command {
	var follow, timestamps bool
	var tail, sinceS, untilS string
	c := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Example: `  berth logs web
  berth logs -f --tail 10 web
  berth logs --since 10m -t web`,
		Args: exactArgs(1, "logs"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			e, c, err := openContainer(ctx, args[0])
			if err != nil {
				return err
			}
			ro := logs.ReadOptions{Follow: follow, Timestamps: timestamps, Tail: -1}
			if tail != "" && tail != "all" {
				if _, err := fmt.Sscanf(tail, "%d", &ro.Tail); err != nil || ro.Tail < 0 {
					return fmt.Errorf("invalid value for --tail %q: want a number or \"all\"", tail)
				}
			}
			if ro.Since, err = parseTimeFlag("since", sinceS); err != nil {
				return err
			}
			if ro.Until, err = parseTimeFlag("until", untilS); err != nil {
				return err
			}
			driver := c.HostConfig.LogConfig.Type
			if driver == "" {
				driver = "json-file"
			}
			if driver == "none" {
				return fmt.Errorf("configured logging driver does not support reading")
			}
			if follow {
				ro.Done = func() bool {
					c2, err := e.Get(context.Background(), c.ID)
					return err != nil || !c2.State.Running()
				}
			}
			return logs.Read(ctx, e.LogPath(c), driver, ro, os.Stdout, os.Stderr)
		},
	}
	fl := c.Flags()
	fl.BoolVarP(&follow, "follow", "f", false, "follow log output")
	fl.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	fl.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end of the logs")
	fl.StringVar(&sinceS, "since", "", "show logs since timestamp (2013-01-02T13:23:37Z) or relative (42m)")
	fl.StringVar(&untilS, "until", "", "show logs before a timestamp or relative (42m)")
	return c
}

// parseTimeFlag reads Docker's --since/--until: RFC 3339 (with or without
// zone/seconds), Unix seconds, or a duration ago.
func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, l := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(l, v, time.Local); err == nil {
			return t, nil
		}
	}
	var sec, nsec int64
	if n, _ := fmt.Sscanf(v, "%d.%d", &sec, &nsec); n >= 1 {
		return time.Unix(sec, nsec), nil
	}
	return time.Time{}, fmt.Errorf("invalid value for --%s %q: want a timestamp or a duration like 10m", name, v)
}
