package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Pause freezes a running container.
func (e *Engine) Pause(ctx context.Context, ref string) error {
	return e.setPaused(ctx, ref, true)
}

// Unpause thaws it.
func (e *Engine) Unpause(ctx context.Context, ref string) error {
	return e.setPaused(ctx, ref, false)
}

func (e *Engine) setPaused(ctx context.Context, ref string, pause bool) error {
	return e.withLocked(ctx, ref, func(c *Container) error {
		switch {
		case pause && c.State.Status == StatusPaused:
			return fmt.Errorf("%w: container %s is already paused", ErrState, c.ID)
		case pause && c.State.Status != StatusRunning:
			return fmt.Errorf("%w: container %s is not running", ErrState, c.ID)
		case !pause && c.State.Status != StatusPaused:
			return fmt.Errorf("%w: container %s is not paused", ErrState, c.ID)
		}
		verb, status := "resume", StatusRunning
		if pause {
			verb, status = "pause", StatusPaused
		}
		if err := e.runRuntime(ctx, c, verb, c.ID); err != nil {
			return err
		}
		c.State.Status = status
		if err := e.save(c); err != nil {
			return err
		}
		e.emit("container", map[bool]string{true: "pause", false: "unpause"}[pause], c, nil)
		return nil
	})
}

// Rename gives a container a new name.
func (e *Engine) Rename(ctx context.Context, ref, name string) error {
	id, err := e.Resolve(ref)
	if err != nil {
		return err
	}
	name = strings.TrimPrefix(name, "/")
	unlock, err := e.lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	c, err := e.load(ctx, id, true)
	if err != nil {
		return err
	}
	if c.Name == name {
		return fmt.Errorf("renaming a container with the same name as its current name")
	}
	if err := e.claimName(name, id); err != nil {
		return err
	}
	old := c.Name
	c.Name = name
	if err := e.save(c); err != nil {
		e.releaseName(name, id)
		return err
	}
	e.releaseName(old, id)
	e.emit("container", "rename", c, map[string]string{"oldName": "/" + old})
	return nil
}

// Pids lists the host pids of the container's processes.
func (e *Engine) Pids(ctx context.Context, c *Container) ([]int, error) {
	bin, pre := e.runtimeFor(c)
	out, err := exec.CommandContext(ctx, bin, append(pre, "ps", "--format", "json", c.ID)...).Output()
	if err != nil {
		return nil, fmt.Errorf("list the processes of %s: %w", c.ID, err)
	}
	var pids []int
	if err := json.Unmarshal(out, &pids); err != nil {
		return nil, fmt.Errorf("list the processes of %s: %w", c.ID, err)
	}
	return pids, nil
}

// Top runs ps on the host with psArgs and keeps the container's rows, as
// `docker top` does.
func (e *Engine) Top(ctx context.Context, ref string, psArgs []string) ([]string, [][]string, error) {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	if !c.State.Running() {
		return nil, nil, fmt.Errorf("%w: container %s is not running", ErrState, c.ID)
	}
	pids, err := e.Pids(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.CommandContext(ctx, "ps", psArgs...).Output()
	if err != nil {
		return nil, nil, fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	titles := strings.Fields(lines[0])
	col := -1
	for i, t := range titles {
		if t == "PID" {
			col = i
		}
	}
	if col < 0 {
		return nil, nil, fmt.Errorf("ps %s: no PID column", strings.Join(psArgs, " "))
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	var rows [][]string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		if p, err := strconv.Atoi(f[col]); err == nil && in[p] {
			// The last column (the command) may hold spaces.
			if len(f) > len(titles) {
				f = append(f[:len(titles)-1], strings.Join(f[len(titles)-1:], " "))
			}
			rows = append(rows, f)
		}
	}
	return titles, rows, nil
}

// RawStats returns the runtime's stats JSON for a running container.
func (e *Engine) RawStats(ctx context.Context, c *Container) (json.RawMessage, error) {
	bin, pre := e.runtimeFor(c)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(pre, "events", "--stats", c.ID)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %s", c.ID, strings.TrimSpace(stderr.String()))
	}
	var ev struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &ev); err != nil {
		return nil, fmt.Errorf("stats of %s: %w", c.ID, err)
	}
	return ev.Data, nil
}

// Update changes a running container's resources (and the record, so the
// next start keeps them).
func (e *Engine) Update(ctx context.Context, ref string, hc func(*HostConfig), runtimeArgs []string) error {
	return e.withLocked(ctx, ref, func(c *Container) error {
		hc(&c.HostConfig)
		if c.State.Running() && len(runtimeArgs) > 0 {
			if err := e.runRuntime(ctx, c, append(append([]string{"update"}, runtimeArgs...), c.ID)...); err != nil {
				return err
			}
		}
		return e.save(c)
	})
}

// ShimDir is the monitor's directory of a container.
func (e *Engine) ShimDir(c *Container) string { return e.shimDir(c.ID) }

func (e *Engine) tmpDir() string { return filepath.Join(e.runroot, "tmp") }
