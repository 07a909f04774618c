package overlay_test

import (
	"context"
	"testing"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/overlay"
	"github.com/berth-dev/berth/snapshot/testsuite"
)

func TestSuite(t *testing.T) {
	testsuite.Run(t, func(ctx context.Context, root string) (snapshot.Snapshotter, error) {
		if err := overlay.Supported(root); err != nil {
			return nil, err
		}
		return overlay.New(root)
	})
}
