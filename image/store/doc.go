// Package store is berth's local image store: a content-addressed blob store
// plus image metadata.
//
// Layout under the root directory:
//
//	blobs/sha256/<hex>   blobs, each whole and verified or absent
//	ingest/              temp files being written (same filesystem, renamed into blobs/)
//	locks/<hex>.lock     per-digest ingest locks (flock), so concurrent pulls share work
//	gc.lock              flock: shared while a pull or ingest runs, exclusive during Prune
//	metadata.db          bbolt: images (name → target descriptor), blob sources
//
// Ingest verifies the digest and size while streaming into a temp file,
// fsyncs it and renames it into place; on any error (bad digest, short
// stream, disk full, cancelled context) the temp file is removed and nothing
// is left behind. Several berth processes may use one store at once: the
// bbolt file is opened per transaction with a timeout (bbolt locks the whole
// file while open), transactions are short, and two processes ingesting the
// same digest both succeed (identical content, atomic rename).
//
// Prune is the garbage collector: it keeps every blob reachable from an image
// record (index → manifests → config and layers) and deletes the rest.
//
// # For the snapshotter and the engine
//
//	m, err := s.ImageManifest(ctx, "docker.io/library/busybox:latest", nil) // nil: host platform
//	// m.Layers[i]: digest, media type (gzip, zstd or plain tar), size; bottom first
//	// m.Image.RootFS.DiffIDs[i]: the uncompressed digest of m.Layers[i]
//	// m.Image.Config: Env, Cmd, Entrypoint, WorkingDir, User, ...
//	f, err := s.Open(m.Layers[0].Digest) // *os.File; decompress per media type
//
// V1Image, V1Index, WriteImage and WriteIndex adapt stored content to and
// from go-containerregistry's v1 types (used by push, layout and archive).
//
// Vocabulary follows go-containerregistry: a layer's Digest is the hash of the
// compressed blob as stored, its DiffID the hash of the uncompressed tar
// (found in the config's rootfs.diff_ids). The store keeps compressed blobs
// (gzip, zstd, or uncompressed) as the registry served them; decompression is
// the snapshotter's job.
package store
