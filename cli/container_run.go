package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/sigcatch"
	"github.com/berth-dev/berth/oci"
	"github.com/berth-dev/berth/shim"
)

func addRunCommands() {
	Root.AddCommand(newRunCmd(), newCreateCmd())
	containerCmd.AddCommand(newRunCmd(), newCreateCmd())
}

// containerCmd groups the container commands (`berth container ls`, ...)
// that also exist at the top level, as in Docker.
var containerCmd = &cobra.Command{Use: "container", Short: "Manage containers"}

func addContainerGroup() { Root.AddCommand(containerCmd) }

func openEngine() (*engine.Engine, error) {
	return engine.New(engine.Options{Root: globals.root, RunRoot: globals.runroot})
}

// openContainer opens the engine and finds the container ref names.
func openContainer(ctx context.Context, ref string) (*engine.Engine, *engine.Container, error) {
	e, err := openEngine()
	if err != nil {
		return nil, nil, err
	}
	c, err := e.Get(ctx, ref)
	return e, c, err
}

func newRunCmd() *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Long: `Create a container from IMAGE (pulled if missing, see --pull) and start it.
Attached (the default), berth streams its output and exits with its exit
code; with -d it prints the container's ID. Exit codes as Docker: 125 when
berth fails, 126 when the command cannot be run, 127 when it is not found.`,
		Example: `  berth run --rm busybox echo hello
  berth run -it --rm debian bash
  berth run -d --name web -p 8080:80 nginx
  berth run --rm --memory 64m --pids-limit 100 busybox sh -c 'echo limited'`,
		Args: minArgs(1, "run"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runContainer(cmd.Context(), &f, args)
		},
	}
	f.register(c.Flags(), true)
	return c
}

func newCreateCmd() *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  minArgs(1, "create"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			_, ct, err := createContainer(ctx, &f, args, false)
			if err != nil {
				return err
			}
			fmt.Println(ct.ID)
			return nil
		},
	}
	f.register(c.Flags(), false)
	return c
}

// createContainer creates the container of a create or run; with start
// (run), the engine keeps it for the Start or Remove that must follow.
func createContainer(ctx context.Context, f *runFlags, args []string, start bool) (*engine.Engine, *engine.Container, error) {
	// Flags and networks first: a bad one must not pull anything.
	o, err := f.createOptions(args[1:])
	if err != nil {
		return nil, nil, err
	}
	e, err := openEngine()
	if err != nil {
		return nil, nil, err
	}
	if err := checkNetworks(ctx, e, o.Networks); err != nil {
		return nil, nil, err
	}
	oci.ETrace("cli: flags")
	if o.Image, err = imageForRun(ctx, os.Stderr, args[0], f.pull, f.platform); err != nil {
		return nil, nil, err
	}
	oci.ETrace("cli: image resolved")
	o.Start = start
	c, err := e.Create(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	oci.ETrace("cli: created")
	return e, c, nil
}

func runContainer(ctx context.Context, f *runFlags, args []string) error {
	ctx = bg(ctx)
	e, c, err := createContainer(ctx, f, args, true)
	if err != nil {
		return err
	}
	if f.detach {
		if _, err := e.Start(ctx, c.ID, engine.StartOptions{}); err != nil {
			if f.rm || !ranAndFailed(err) {
				e.Remove(context.WithoutCancel(ctx), c.ID, engine.RemoveOptions{Force: true, Volumes: true})
			}
			return startExit(err)
		}
		fmt.Println(c.ID)
		return nil
	}
	code, err := attachAndStart(ctx, e, c, f.interactive, f.tty, f.detachKeys, f.sigProxy, true, f.rm)
	if f.rm && !errors.Is(err, shim.ErrDetached) || err != nil && !isDetached(err) && !ranAndFailed(err) {
		if rerr := e.Remove(context.WithoutCancel(ctx), c.ID, engine.RemoveOptions{Force: true, Volumes: true}); rerr != nil && !errors.Is(rerr, engine.ErrNotFound) && err == nil {
			err = rerr
		}
	}
	oci.ETrace("cli: removed")
	if err != nil {
		if errors.Is(err, shim.ErrDetached) {
			return nil
		}
		return startExit(err)
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

// ranAndFailed says whether a start failed on the container's command
// (126/127: Docker keeps such a container, exited) rather than on its
// setup (a taken port, a bad mount: `run` then leaves nothing behind).
func ranAndFailed(err error) bool {
	var se *engine.StartError
	return errors.As(err, &se) && (se.Code == 126 || se.Code == 127)
}

// checkNetworks fails on a --network name that does not exist, before
// anything is created.
func checkNetworks(ctx context.Context, e *engine.Engine, reqs []engine.NetworkRequest) error {
	for _, r := range reqs {
		if r.Name == "bridge" || r.Name == "berth" {
			continue
		}
		m, err := e.Networks()
		if err != nil {
			return err
		}
		if _, err := m.Get(ctx, r.Name); err != nil {
			return fmt.Errorf("network %s not found", r.Name)
		}
	}
	return nil
}

// startExit gives a start failure Docker's exit code.
func startExit(err error) error {
	var se *engine.StartError
	if errors.As(err, &se) {
		return &ExitError{Code: se.Code, Err: err}
	}
	return err
}

// attachAndStart starts c with the caller's terminal attached (when start
// is set; else attaches to a running one), waits for the end and returns
// the container's exit code.
func attachAndStart(ctx context.Context, e *engine.Engine, c *engine.Container, stdin, tty bool, detachKeys string, sigProxy, start, ownCleanup bool) (int, error) {
	var in io.Reader
	if stdin {
		in = os.Stdin
	}
	ao := shim.AttachOptions{Stdin: in, Stdout: os.Stdout, Stderr: os.Stderr, Tty: tty}
	if detachKeys != "" {
		k, err := parseDetachKeys(detachKeys)
		if err != nil {
			return 125, err
		}
		ao.DetachKeys = k
	}
	if tty && stdin && term.IsTerminal(int(os.Stdin.Fd())) {
		st, err := term.MakeRaw(int(os.Stdin.Fd()))
		if err == nil {
			defer term.Restore(int(os.Stdin.Fd()), st)
		}
	}
	done := make(chan error, 1)
	attach := func(dir string) error {
		connected := make(chan struct{})
		ao.Connected = func() { close(connected) }
		go func() { done <- shim.Attach(ctx, dir, ao) }()
		select {
		case <-connected:
		case err := <-done:
			// Attach ended before it connected: a failure, or a container
			// that already exited (then the exit code tells).
			done <- err
			if err != nil {
				return fmt.Errorf("attach: %w", err)
			}
			return nil
		}
		if tty {
			resizeTo(dir)
			go followWinch(ctx, dir)
		}
		return nil
	}
	if start {
		if _, err := e.Start(ctx, c.ID, engine.StartOptions{BeforeStart: attach, OwnCleanup: ownCleanup}); err != nil {
			return 125, err
		}
	} else {
		if err := attach(e.ShimDir(c)); err != nil {
			return 125, err
		}
	}
	if sigProxy && !tty {
		stop := proxySignals(ctx, e, c.ID)
		defer stop()
	}
	if err := <-done; err != nil {
		if errors.Is(err, shim.ErrDetached) {
			return 0, err
		}
	}
	oci.ETrace("cli: stream ended")
	w, err := e.Wait(ctx, c.ID)
	oci.ETrace("cli: waited")
	if err != nil {
		return 125, err
	}
	return w.State.ExitCode, nil
}

func resizeTo(dir string) {
	if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
		shim.Resize(dir, uint16(h), uint16(w))
	}
}

func followWinch(ctx context.Context, dir string) {
	ch := make(chan os.Signal, 1)
	stop, err := sigcatch.Notify(ch, syscall.SIGWINCH)
	if err != nil {
		return
	}
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			resizeTo(dir)
		}
	}
}

// proxySignals forwards the signals a user sends berth to the container
// (sigcatch: os/signal's set-up costs ~0.1 ms per signal).
func proxySignals(ctx context.Context, e *engine.Engine, id string) func() {
	ch := make(chan os.Signal, 8)
	stop, err := sigcatch.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	if err != nil {
		return func() {}
	}
	go func() {
		for s := range ch {
			e.Kill(ctx, id, s.(syscall.Signal))
		}
	}()
	return func() { stop(); close(ch) }
}

// parseDetachKeys reads Docker's detach key syntax: "ctrl-p,ctrl-q", "a,b".
func parseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range splitComma(s) {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case len(k) == 6 && k[:5] == "ctrl-":
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@':
				out = append(out, 0)
			case c >= '[' && c <= '_':
				out = append(out, c-'['+27)
			default:
				return nil, fmt.Errorf("--detach-keys: unknown character %q", k)
			}
		default:
			return nil, fmt.Errorf("--detach-keys: unknown key %q", k)
		}
	}
	return out, nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func isDetached(err error) bool { return errors.Is(err, shim.ErrDetached) }
