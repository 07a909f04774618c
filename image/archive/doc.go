// Package archive saves images from the store to tar archives and loads
// them back, in the two formats users exchange:
//
//   - docker-archive: what `docker save` writes and `docker load` reads
//     (manifest.json with RepoTags, config and layer files), via
//     go-containerregistry's pkg/v1/tarball. It holds single-platform
//     images only, so an index is saved as its host (or chosen) platform.
//   - oci-archive: a tar of an OCI image layout (skopeo's "oci-archive:"),
//     via image/layout.
//
// Loading verifies every blob as the store ingests it; a bad archive gives
// an error and records no image.
package archive
