package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image/reference"
)

// imageForRun finds IMAGE for run/create the way Docker does, pulling it
// by the --pull policy, and makes sure its layers are unpacked.
func imageForRun(ctx context.Context, progress io.Writer, arg, policy, plat string) (engine.ImageInfo, error) {
	var info engine.ImageInfo
	switch policy {
	case "", "missing", "always", "never":
	default:
		return info, fmt.Errorf("--pull %q: want always, missing or never", policy)
	}
	if err := checkSnapshotter(globals.snapshotter); err != nil {
		return info, err
	}
	if policy == "always" {
		if err := pull(ctx, progress, arg, plat, false); err != nil {
			return info, err
		}
	}
	s, err := openStore()
	if err != nil {
		return info, err
	}
	lis, err := findImages(ctx, s, arg)
	if errors.Is(err, ErrNoSuchImage) && (policy == "" || policy == "missing") {
		if _, perr := reference.Parse(arg); perr == nil {
			fmt.Fprintf(progress, "Unable to find image '%s' locally\n", arg)
			if err = pull(ctx, progress, arg, plat, false); err != nil {
				return info, err
			}
			lis, err = findImages(ctx, s, arg)
		}
	}
	if err != nil {
		if errors.Is(err, ErrNoSuchImage) && policy == "never" {
			return info, fmt.Errorf("%w: %s (and --pull=never)", ErrNoSuchImage, arg)
		}
		return info, err
	}
	li := lis[0]
	if li.m == nil {
		return info, fmt.Errorf("image %s: content incomplete in the store; pull it again", arg)
	}
	if plat != "" {
		want, err := parsePlatform(plat)
		if err != nil {
			return info, err
		}
		got := configPlatform(li.m)
		if want.OS != got.OS || want.Architecture != got.Architecture {
			return info, fmt.Errorf("image %s is %s, not the requested platform %s", arg, platformOf(li.m), plat)
		}
	}
	top, err := unpackImage(ctx, s, li.m)
	if err != nil {
		return info, err
	}
	name := li.rec.Name
	if li.ref.Path != "" {
		name = li.ref.Familiar()
	}
	return engine.ImageInfo{
		Name:        name,
		ID:          li.ID().String(),
		Config:      li.m.Image.Config,
		Snapshotter: globals.snapshotter,
		Parent:      top,
		Healthcheck: imageHealthcheck(li.m.RawConfig),
	}, nil
}

// imageHealthcheck reads Docker's HEALTHCHECK from an image config.
func imageHealthcheck(raw []byte) *engine.Healthcheck {
	var cfg struct {
		Config struct {
			Healthcheck *engine.Healthcheck `json:"Healthcheck"`
		} `json:"config"`
	}
	if json.Unmarshal(raw, &cfg) != nil || cfg.Config.Healthcheck == nil || len(cfg.Config.Healthcheck.Test) == 0 {
		return nil
	}
	return cfg.Config.Healthcheck
}
