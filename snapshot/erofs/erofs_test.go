package erofs_test

import (
	"context"
	"os/exec"
	"testing"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/erofs"
	"github.com/berth-dev/berth/snapshot/testsuite"
)

func TestSuite(t *testing.T) {
	if err := erofs.Supported(t.TempDir()); err != nil {
		t.Fatalf("EROFS file-backed mounts: %v", err)
	}
	testsuite.Run(t, func(ctx context.Context, root string) (snapshot.Snapshotter, error) {
		return erofs.New(root)
	})
}

// The same suite with mkfs.erofs doing the packing.
func TestSuiteMkfs(t *testing.T) {
	if _, err := exec.LookPath("mkfs.erofs"); err != nil {
		t.Fatalf("mkfs.erofs (erofs-utils, in scripts/setup.sh): %v", err)
	}
	testsuite.Run(t, func(ctx context.Context, root string) (snapshot.Snapshotter, error) {
		return erofs.New(root, erofs.WithMkfsImport())
	})
}
