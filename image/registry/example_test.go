package registry_test

import (
	"context"
	"fmt"
	"log"

	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/registry"
	"github.com/berth-dev/berth/image/store"
)

// How the CLI pulls an image with per-layer progress and then hands the
// layers to the snapshotter.
func ExamplePull() {
	ctx := context.Background()
	s, err := store.New("/var/lib/berth/image")
	if err != nil {
		log.Fatal(err)
	}
	ref, err := reference.Parse("busybox:1.36") // docker.io/library/busybox:1.36
	if err != nil {
		log.Fatal(err) // *reference.ErrBadReference naming the input
	}
	cfg, err := registry.LoadConfig(registry.DefaultConfigPaths(s.Root())...)
	if err != nil {
		log.Fatal(err)
	}
	res, err := registry.Pull(ctx, s, ref,
		registry.WithConfig(cfg),
		registry.WithProgress(func(p registry.Progress) {
			fmt.Printf("%s: %s %d/%d\n", p.Digest.Encoded()[:12], p.State, p.Current, p.Total)
		}))
	if err != nil {
		log.Fatal(err)
	}
	m, err := s.ImageManifest(ctx, res.Image.Name, nil)
	if err != nil {
		log.Fatal(err)
	}
	for i, l := range m.Layers {
		fmt.Println(l.MediaType, l.Digest, m.Image.RootFS.DiffIDs[i]) // open with s.Open(l.Digest)
	}
}
