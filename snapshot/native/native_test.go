package native_test

import (
	"context"
	"testing"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/native"
	"github.com/berth-dev/berth/snapshot/testsuite"
)

func TestSuite(t *testing.T) {
	testsuite.Run(t, func(ctx context.Context, root string) (snapshot.Snapshotter, error) {
		return native.New(root)
	})
}
