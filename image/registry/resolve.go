package registry

import (
	"context"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/image/reference"
)

// Resolve returns the descriptor ref names in the registry (an index or a
// manifest: media type, digest, size) without pulling anything, trying
// mirrors first like Pull. The CLI uses it to tell whether a local image
// is up to date.
func Resolve(ctx context.Context, ref reference.Reference, opts ...Opt) (ocispec.Descriptor, error) {
	o, err := newOptions(opts)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var errs []error
	for _, ep := range o.config.endpoints(ref.Domain) {
		c, err := newClient(ctx, o, ep, ref.Path)
		if err == nil {
			var desc ocispec.Descriptor
			if _, desc, err = c.fetchManifest(ctx, ref.Identifier(), ref.Digest); err == nil {
				return desc, nil
			}
		}
		errs = append(errs, err)
		if !ep.mirror || ctx.Err() != nil {
			break
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("resolve %s: %w", ref.Familiar(), errors.Join(errs...))
}
