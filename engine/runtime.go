package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
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
