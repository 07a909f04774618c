package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/docker/go-units"

	"github.com/berth-dev/berth/engine/volume"
	"github.com/berth-dev/berth/shim"
	"github.com/berth-dev/berth/snapshot"
)

func isNotFound(err error) bool {
	return errors.Is(err, snapshot.ErrNotFound) || errors.Is(err, os.ErrNotExist)
}

// logOpts applies --log-driver and --log-opt to the monitor's config.
func logOpts(cfg *shim.Config, lc LogConfig) error {
	switch lc.Type {
	case "", "json-file":
		cfg.LogDriver = "json-file"
	case "k8s-file", "none":
	default:
		return fmt.Errorf("--log-driver %q: berth supports json-file, k8s-file and none", lc.Type)
	}
	for k, v := range lc.Config {
		switch k {
		case "max-size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("--log-opt max-size=%s: want a positive size like 10m", v)
			}
			cfg.LogMaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("--log-opt max-file=%s: want a number >= 1", v)
			}
			cfg.LogMaxFiles = n
		case "path":
			if lc.Type != "k8s-file" {
				return fmt.Errorf("--log-opt path: only for the k8s-file driver")
			}
			cfg.LogPath = v
		default:
			return fmt.Errorf("--log-opt %s: unknown option for %s (max-size, max-file)", k, cfg.LogDriver)
		}
	}
	if cfg.LogMaxFiles > 1 && cfg.LogMaxSize == 0 {
		return fmt.Errorf("--log-opt max-file needs max-size")
	}
	return nil
}

const (
	defaultHealthInterval = 30 * time.Second
	defaultHealthTimeout  = 30 * time.Second
)

func healthConfig(h *Healthcheck) *shim.Health {
	cmd := h.Test
	switch {
	case len(cmd) > 0 && cmd[0] == "CMD":
		cmd = cmd[1:]
	case len(cmd) > 1 && cmd[0] == "CMD-SHELL":
		cmd = []string{"/bin/sh", "-c", cmd[1]}
	}
	hc := &shim.Health{Cmd: cmd, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	if hc.Interval == 0 {
		hc.Interval = defaultHealthInterval
	}
	if hc.Timeout == 0 {
		hc.Timeout = defaultHealthTimeout
	}
	if hc.Retries == 0 {
		hc.Retries = 3
	}
	return hc
}

// removeAnonymousVolumes removes the container's anonymous volumes (rm -v).
func (e *Engine) removeAnonymousVolumes(c *Container) {
	any := false
	for _, m := range c.Mounts {
		any = any || m.Type == "volume" && m.Anonymous
	}
	if !any {
		return // without opening the volume store and listing every container
	}
	vs, err := e.volumes()
	if err != nil {
		return
	}
	users, _ := e.VolumeUsers(context.Background())
	for _, m := range c.Mounts {
		if m.Type == "volume" && m.Anonymous {
			vs.Remove(m.Name, false, users)
		}
	}
}

// mountVolumes makes each volume the container uses ready (volumes with
// device options are mounted for their first user) and fills new empty
// ones with the image's content at their mount point, as Docker does on
// first use. It returns the host path per volume name.
func (e *Engine) mountVolumes(c *Container) (map[string]string, error) {
	var vs *volume.Store
	paths := map[string]string{}
	for _, m := range c.Mounts {
		if m.Type != "volume" {
			continue
		}
		if vs == nil {
			var err error
			if vs, err = e.volumes(); err != nil {
				return nil, err
			}
		}
		p, err := vs.Mount(m.Name, c.ID)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", m.Name, err)
		}
		paths[m.Name] = p
		if m.NoCopy {
			continue
		}
		if err := volume.CopyUp(e.rootfs(c.ID), m.Destination, p); err != nil {
			return nil, fmt.Errorf("copy image content into volume %s: %w", m.Name, err)
		}
	}
	return paths, nil
}

// unmountVolumes releases what mountVolumes took. Idempotent.
func (e *Engine) unmountVolumes(c *Container) {
	var vs *volume.Store
	for _, m := range c.Mounts {
		if m.Type != "volume" {
			continue
		}
		if vs == nil {
			var err error
			if vs, err = e.volumes(); err != nil {
				return
			}
		}
		vs.Unmount(m.Name, c.ID)
	}
}

// VolumeUsers maps each volume name to the ids of the containers that use it.
func (e *Engine) VolumeUsers(ctx context.Context) (volume.Users, error) {
	cs, err := e.List(ctx)
	if err != nil {
		return nil, err
	}
	u := volume.Users{}
	for _, c := range cs {
		for _, m := range c.Mounts {
			if m.Type == "volume" {
				u[m.Name] = append(u[m.Name], c.ID)
			}
		}
	}
	return u, nil
}

// Volumes opens the volume store.
func (e *Engine) Volumes() (*volume.Store, error) { return e.volumes() }

// HealthPath is where the monitor keeps health check results.
func (e *Engine) HealthPath(id string) string { return filepath.Join(e.shimDir(id), "health.json") }
