package cli

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/image/platform"
	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/unpack"
)

// tarNames lists the top-level regular files of a tar stream.
func tarNames(r io.Reader) (map[string]bool, error) {
	tr := tar.NewReader(r)
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if len(names) == 0 {
				return nil, errors.New("empty archive")
			}
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		names[strings.TrimPrefix(h.Name, "./")] = true
	}
}

func parsePlatform(s string) (ocispec.Platform, error) {
	p, err := platform.Parse(s)
	if err != nil {
		return p, fmt.Errorf("--platform: %w", err)
	}
	return p, nil
}

// chainTop is the chain ID of all of diffIDs: the snapshot an image's
// containers are prepared on.
func chainTop(diffIDs []digest.Digest) string {
	c := unpack.ChainIDs(diffIDs)
	return c[len(c)-1].String()
}

// usedChains lists the committed snapshots that active snapshots (container
// root filesystems) are prepared on, in every snapshotter.
func usedChains(ctx context.Context) (map[string]bool, error) {
	used := map[string]bool{}
	for _, name := range snapshotters {
		if !dirExists(snapshotsDir() + "/" + name) {
			continue
		}
		sn, err := openSnapshotter(name)
		if err != nil {
			return nil, err
		}
		err = sn.Walk(ctx, func(_ context.Context, i snapshot.Info) error {
			if i.Kind != snapshot.KindCommitted && i.Parent != "" {
				used[i.Parent] = true
			}
			return nil
		})
		sn.Close()
		if err != nil {
			return nil, err
		}
	}
	return used, nil
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
