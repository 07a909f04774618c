package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/engine/volume"
	"github.com/berth-dev/berth/snapshot/mount"
)

// ImageInfo is the image a container is created from, already in the
// store and unpacked (the CLI pulls and unpacks; the engine only reads).
type ImageInfo struct {
	Name        string // normalised reference, or the id the user gave
	ID          string // config digest
	Config      ocispec.ImageConfig
	Snapshotter string
	// Parent is the chain ID of the image's layers ("" for none).
	Parent string
	// Healthcheck is the image's HEALTHCHECK (Docker's config has one;
	// the OCI config does not).
	Healthcheck *Healthcheck
}

// MountRequest is one -v, --mount or image volume before resolution.
type MountRequest struct {
	Type        string // bind, volume, tmpfs
	Source      string // host path, volume name ("" anonymous)
	Target      string
	ReadOnly    bool
	Propagation string
	NoCopy      bool
	Options     []string
	VolumeOpts  map[string]string
	// CreateSource: a missing bind source is created (-v does this; --mount
	// only with bind-create-src).
	CreateSource bool
}

// CreateOptions is everything `create` and `run` were given.
type CreateOptions struct {
	Name       string
	Image      ImageInfo
	Config     Config
	HostConfig HostConfig
	Mounts     []MountRequest
	// PublishAll publishes every exposed port on a random host port (-P).
	PublishAll bool
	// Networks are the --network names with their settings.
	Networks []NetworkRequest
	// Start: the caller starts the container next (run). Create then
	// keeps the container's lock for that Start, which takes the record
	// from memory, and skips saving the created state the start replaces
	// at once. The caller must Start or Remove the container next; a
	// process killed in between leaves a creating record, which the next
	// command removes.
	Start bool
}

// Create makes a container: its record, its writable snapshot on the
// image and its volumes. Nothing runs yet. On error nothing is left.
func (e *Engine) Create(ctx context.Context, o CreateOptions) (c *Container, err error) {
	id := newID()
	// The lock comes before the name: a name whose container has no record
	// and a free lock is taken over as abandoned (see claimName).
	unlock, err := e.lock(id)
	if err != nil {
		return nil, err
	}
	defer func() {
		if unlock != nil {
			unlock()
		}
	}()
	name := strings.TrimPrefix(o.Name, "/")
	if name != "" {
		if err := e.claimName(name, id); err != nil {
			e.dropLock(id)
			return nil, err
		}
	} else {
		for try := 0; ; try++ {
			name = randomName(try / 10)
			if err = e.claimName(name, id); err == nil {
				break
			}
			if !errors.Is(err, ErrNameUsed) || try > 100 {
				e.dropLock(id)
				return nil, err
			}
		}
	}

	c = &Container{
		ID:          id,
		Name:        name,
		Created:     time.Now().UTC(),
		Image:       o.Image.Name,
		ImageID:     o.Image.ID,
		Config:      o.Config,
		HostConfig:  o.HostConfig,
		Snapshotter: o.Image.Snapshotter,
		SnapshotKey: "ctr-" + id,
		Parent:      o.Image.Parent,
		ImageConfig: o.Image.Config,
		State:       State{Status: statusCreating, CleanedUp: true},
	}
	if c.Config.Healthcheck == nil && o.Image.Healthcheck != nil {
		c.Config.Healthcheck = o.Image.Healthcheck
	}
	c.HostConfig.PublishAllPorts = o.PublishAll
	c.NetworkRequests = o.Networks
	applyImageDefaults(c, o.Image.Config)
	if err := os.MkdirAll(e.containerDir(id), 0o700); err != nil {
		e.releaseName(name, id)
		e.dropLock(id)
		return nil, fmt.Errorf("create container dir: %w", err)
	}
	rec := c // the named result is nil on the error returns below
	defer func() {
		if err != nil {
			e.destroy(context.WithoutCancel(ctx), rec)
			e.removeAnonymousVolumes(rec) // after the record: no longer a user
		}
	}()
	if err := e.save(c); err != nil {
		return nil, err
	}
	if err := e.prepareSnapshot(ctx, c); err != nil {
		return nil, err
	}
	if err := e.resolveMounts(c, o.Mounts, o.Image.Config.Volumes); err != nil {
		return nil, err
	}
	c.State.Status = StatusCreated
	if o.Start {
		// The start's first save follows: the lock and the record (a
		// copy: the caller keeps its own) go to it.
		held := *c
		e.held.Store(id, &heldContainer{c: &held, unlock: unlock})
		unlock = nil
	} else if err := e.save(c); err != nil {
		return nil, err
	}
	e.emit("container", "create", c, nil)
	return c, nil
}

// applyImageDefaults fills what the user left empty from the image config,
// as Docker records it in the container's Config.
func applyImageDefaults(c *Container, ic ocispec.ImageConfig) {
	if c.Config.Labels == nil {
		c.Config.Labels = map[string]string{}
	}
	for k, v := range ic.Labels {
		if _, ok := c.Config.Labels[k]; !ok {
			c.Config.Labels[k] = v
		}
	}
	if c.Config.StopSignal == "" {
		c.Config.StopSignal = ic.StopSignal
	}
	if len(ic.ExposedPorts) > 0 && c.Config.ExposedPorts == nil {
		c.Config.ExposedPorts = map[string]struct{}{}
	}
	for p := range ic.ExposedPorts {
		c.Config.ExposedPorts[p] = struct{}{}
	}
	if len(ic.Volumes) > 0 {
		c.Config.Volumes = map[string]struct{}{}
		for v := range ic.Volumes {
			c.Config.Volumes[v] = struct{}{}
		}
	}
}

func (e *Engine) prepareSnapshot(ctx context.Context, c *Container) error {
	unlock, err := e.LockSnapshots(false)
	if err != nil {
		return err
	}
	defer unlock()
	sn, err := e.OpenSnapshotter(c.Snapshotter)
	if err != nil {
		return err
	}
	defer sn.Close()
	ms, err := sn.Prepare(ctx, c.SnapshotKey, c.Parent)
	if err != nil {
		return fmt.Errorf("prepare the container's filesystem on %s: %w", c.Parent, err)
	}
	// A start by this process (run) mounts these: they need no second
	// look at the snapshotter.
	e.prepared.Store(c.ID, preparedMounts{key: c.SnapshotKey, mounts: ms})
	return nil
}

// preparedMounts are the mounts Prepare returned for a container's
// snapshot, kept for its first start by the same process.
type preparedMounts struct {
	key    string
	mounts []mount.Mount
}

func (e *Engine) volumes() (*volume.Store, error) {
	return volume.Open(e.root)
}

// resolveMounts turns the mount requests and the image's VOLUMEs into
// mount points: named volumes are created if missing, anonymous ones made
// for image volumes no request covers.
func (e *Engine) resolveMounts(c *Container, reqs []MountRequest, imageVolumes map[string]struct{}) error {
	covered := map[string]bool{}
	var vs *volume.Store
	getVS := func() (*volume.Store, error) {
		if vs != nil {
			return vs, nil
		}
		var err error
		vs, err = e.volumes()
		return vs, err
	}
	add := func(r MountRequest, anonymous bool) error {
		t := filepath.Clean(r.Target)
		if covered[t] {
			return fmt.Errorf("duplicate mount point: %s", t)
		}
		covered[t] = true
		mp := MountPoint{Type: r.Type, Destination: t, RW: !r.ReadOnly, Propagation: r.Propagation, Mode: strings.Join(r.Options, ",")}
		switch r.Type {
		case "bind":
			if !filepath.IsAbs(r.Source) {
				return fmt.Errorf("invalid mount config: bind source path %q must be absolute", r.Source)
			}
			if _, err := os.Stat(r.Source); err != nil {
				// Docker's -v creates a missing bind source; --mount refuses.
				if !errors.Is(err, os.ErrNotExist) || !r.CreateSource {
					return fmt.Errorf("invalid mount config for type \"bind\": bind source path does not exist: %s", r.Source)
				}
				if err := os.MkdirAll(r.Source, 0o755); err != nil {
					return fmt.Errorf("create bind source %s: %w", r.Source, err)
				}
			}
			mp.Source = r.Source
			if mp.Propagation == "" {
				mp.Propagation = "rprivate"
			}
		case "volume":
			s, err := getVS()
			if err != nil {
				return err
			}
			v, err := s.Create(r.Source, volume.CreateOptions{Anonymous: anonymous || r.Source == "", DriverOpts: r.VolumeOpts})
			if err != nil {
				return fmt.Errorf("volume %s: %w", r.Source, err)
			}
			mp.Name, mp.Source, mp.Anonymous, mp.NoCopy = v.Name, v.Mountpoint, anonymous || r.Source == "", r.NoCopy
			mp.Mode = strings.Join(append([]string{}, r.Options...), ",")
			if mp.Mode == "" {
				mp.Mode = "z"
			}
		case "tmpfs":
			if c.HostConfig.Tmpfs == nil {
				c.HostConfig.Tmpfs = map[string]string{}
			}
			c.HostConfig.Tmpfs[t] = strings.Join(r.Options, ",")
			return nil
		default:
			return fmt.Errorf("invalid mount type %q", r.Type)
		}
		c.Mounts = append(c.Mounts, mp)
		return nil
	}
	for _, r := range reqs {
		if err := add(r, false); err != nil {
			return err
		}
	}
	var imgVols []string
	for v := range imageVolumes {
		imgVols = append(imgVols, v)
	}
	sort.Strings(imgVols)
	for _, v := range imgVols {
		if covered[filepath.Clean(v)] {
			continue
		}
		if err := add(MountRequest{Type: "volume", Target: v}, true); err != nil {
			return err
		}
	}
	return nil
}
