// Package layout moves images between the store and OCI image layout
// directories (https://github.com/opencontainers/image-spec/blob/main/image-layout.md),
// as written and read by skopeo ("oci:DIR:TAG"), umoci and buildah. The
// layout I/O is go-containerregistry's pkg/v1/layout.
//
// Names: Export tags the entry in index.json with
// org.opencontainers.image.ref.name = the tag (what skopeo and umoci look
// up) and io.containerd.image.name = the full reference (what containerd
// looks up). Import uses the full name if present, else the tag combined
// with the repository given by WithName.
package layout
