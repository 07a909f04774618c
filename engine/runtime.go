package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"

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
	if ownRuntime(c) {
		if done, err := e.inProcess(c, args); done {
			return err
		}
	}
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

// inProcess runs start, kill and delete of berth's own runtime here.
func (e *Engine) inProcess(c *Container, args []string) (bool, error) {
	rt := &oci.Runtime{Root: e.runtimeRoot()}
	load := func(id string) (*oci.Container, error) {
		ct, err := rt.Load(id)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", id, err)
		}
		return ct, nil
	}
	switch {
	case len(args) == 2 && args[0] == "start":
		ct, err := load(args[1])
		if err != nil {
			return true, err
		}
		return true, ct.Start()
	case len(args) == 3 && args[0] == "delete" && args[1] == "--force":
		ct, err := load(args[2])
		if errors.Is(err, oci.ErrNotExist) {
			return true, rt.RemoveLeftovers(args[2])
		}
		if err != nil {
			return true, err
		}
		return true, ct.Delete(true)
	case len(args) >= 3 && args[0] == "kill":
		all := args[1] == "--all"
		rest := args[1:]
		if all {
			rest = args[2:]
		}
		if len(rest) != 2 {
			return false, nil
		}
		sig, err := oci.ParseSignal(rest[1])
		if err != nil {
			return true, err
		}
		ct, err := load(rest[0])
		if err != nil {
			return true, err
		}
		return true, ct.Signal(sig, all)
	}
	return false, nil
}
