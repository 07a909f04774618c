// Package hooks runs OCI lifecycle hooks: each hook gets the container
// state as JSON on stdin, its own args and env, and an optional timeout.
package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Error reports a hook that failed, naming which one.
type Error struct {
	Kind  string // createRuntime, poststart, ...
	Index int
	Path  string
	Err   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s hook #%d (%s): %v", e.Kind, e.Index, e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// RunAll runs every hook even when some fail (poststart and poststop: the
// spec wants a warning and the lifecycle to go on) and returns their
// errors joined.
func RunAll(kind string, hs []specs.Hook, st *specs.State) error {
	if len(hs) == 0 {
		return nil
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var errs []error
	for i, h := range hs {
		if err := runOne(h, data); err != nil {
			errs = append(errs, &Error{Kind: kind, Index: i, Path: h.Path, Err: err})
		}
	}
	return errors.Join(errs...)
}

// Run runs hooks in order and stops at the first failure.
func Run(kind string, hs []specs.Hook, st *specs.State) error {
	if len(hs) == 0 {
		return nil
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for i, h := range hs {
		if err := runOne(h, data); err != nil {
			return &Error{Kind: kind, Index: i, Path: h.Path, Err: err}
		}
	}
	return nil
}

func runOne(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout must be positive, got %d", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	} else {
		cmd.Args = []string{h.Path}
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if s := strings.TrimSpace(out.String()); s != "" {
			return fmt.Errorf("%w: %s", err, s)
		}
		return err
	}
	return nil
}
