package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/oci"
)

// runtimeFor is the OCI runtime binary and leading args for c.
func (e *Engine) runtimeFor(c *Container) (string, []string) {
	if c.HostConfig.Runtime != "" && c.HostConfig.Runtime != "berth" {
		return c.HostConfig.Runtime, []string{"--root", e.runtimeRoot() + "-" + runtimeTag(c.HostConfig.Runtime)}
	}
	return e.runtime, append(append([]string{}, e.runtimeArgs...), "--root", e.runtimeRoot())
}

// runtimeTag names a foreign runtime's state dir: runc and crun keep
// incompatible state, so each gets its own --root.
func runtimeTag(path string) string {
	s := path[strings.LastIndexByte(path, '/')+1:]
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// ownRuntime says whether c runs on berth's own runtime, which the engine
// then drives in-process for the short verbs (start, kill, delete): a
// runtime process costs a few ms of every run.
func ownRuntime(c *Container) bool {
	return c.HostConfig.Runtime == "" || c.HostConfig.Runtime == "berth"
}

// runRuntime runs one runtime command and returns its error text.
func (e *Engine) runRuntime(ctx context.Context, c *Container, args ...string) error {
	bin, pre := e.runtimeFor(c)
	cmd := exec.CommandContext(ctx, bin, append(pre, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s %s: %s", bin, args[0], msg)
	}
	return nil
}

// runtimeState is the runtime's `state` output, the part berth uses.
type runtimeState struct {
	Status string `json:"status"`
	Pid    int    `json:"pid"`
}

func (e *Engine) runtimeState(ctx context.Context, c *Container) (*runtimeState, error) {
	bin, pre := e.runtimeFor(c)
	out, err := exec.CommandContext(ctx, bin, append(pre, "state", c.ID)...).Output()
	if err != nil {
		return nil, err
	}
	var st runtimeState
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// ownContainer loads c from berth's own runtime state, for the verbs the
// engine runs in-process.
func (e *Engine) ownContainer(c *Container) (*oci.Container, error) {
	ct, err := (&oci.Runtime{Root: e.runtimeRoot()}).Load(c.ID)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	return ct, nil
}

// rtStart starts the created container's process.
func (e *Engine) rtStart(ctx context.Context, c *Container) error {
	if !ownRuntime(c) {
		return e.runRuntime(ctx, c, "start", c.ID)
	}
	ct, err := e.ownContainer(c)
	if err != nil {
		return err
	}
	return ct.Start()
}

// rtDelete deletes the runtime's container, killing what is left of it; a
// runtime without it is no error.
func (e *Engine) rtDelete(ctx context.Context, c *Container) error {
	if !ownRuntime(c) {
		err := e.runRuntime(ctx, c, "delete", "--force", c.ID)
		if err != nil {
			if st, serr := e.runtimeState(ctx, c); serr != nil || st == nil {
				return nil // never created, or already deleted
			}
		}
		return err
	}
	return (&oci.Runtime{Root: e.runtimeRoot()}).ForceDelete(c.ID)
}

// rtKill signals the container's init, or every process of it with all.
func (e *Engine) rtKill(ctx context.Context, c *Container, sig syscall.Signal, all bool) error {
	if !ownRuntime(c) {
		args := []string{"kill"}
		if all {
			args = append(args, "--all")
		}
		return e.runRuntime(ctx, c, append(args, c.ID, fmt.Sprint(int(sig)))...)
	}
	ct, err := e.ownContainer(c)
	if err != nil {
		return err
	}
	return ct.Signal(sig, all)
}
