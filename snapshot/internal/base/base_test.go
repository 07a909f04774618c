package base_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/snapshot/overlay"
)

// Cleanup removes directories no record references, and spares a Prepare
// in progress.
func TestCleanup(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	root := t.TempDir()
	sn, err := overlay.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare(ctx, "keep", ""); err != nil {
		t.Fatal(err)
	}
	dirs := filepath.Join(root, "snapshots")
	for _, d := range []string{"999/fs", "new-inprogress/fs", "new-stale/fs"} {
		os.MkdirAll(filepath.Join(dirs, d), 0o755)
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(filepath.Join(dirs, "new-stale"), old, old)
	if err := sn.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string]bool{"1": true, "999": false, "new-inprogress": true, "new-stale": false} {
		_, err := os.Stat(filepath.Join(dirs, d))
		if got := err == nil; got != want {
			t.Errorf("%s exists = %v, want %v", d, got, want)
		}
	}
	if _, err := sn.Stat(ctx, "keep"); err != nil {
		t.Errorf("referenced snapshot: %v", err)
	}
}
