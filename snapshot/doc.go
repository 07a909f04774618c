// Package snapshot defines berth's Snapshotter: the thing that turns a chain
// of image layers into mountable filesystems, in containerd's vocabulary.
//
// # Vocabulary
//
// A snapshot is a filesystem tree identified by a string. There are three
// kinds, and a snapshot never changes kind:
//
//   - An active snapshot is writable. It is created by Prepare under a key
//     and mounted through the mounts that Prepare (or Mounts) returns.
//   - A view is a read-only active snapshot created by View under a key.
//     It can be mounted and removed, never committed.
//   - A committed snapshot is immutable. Commit(name, key) turns the content
//     of the active snapshot key into a new committed snapshot called name,
//     and the active snapshot key is gone afterwards. Only committed
//     snapshots can be parents.
//
// Keys and names share one namespace: a key that is in use cannot be used as
// a name, and the other way round. parent is always the name of a committed
// snapshot, or "" for an empty tree. Active snapshots never become committed
// snapshots and vice versa: Commit makes a new snapshot.
//
// # Importing a layer
//
// To unpack the layers of an image, each layer is applied on top of the
// previous one:
//
//	mounts, err := sn.Prepare(ctx, "extract-1", parentName)
//	// apply the uncompressed layer tar into the mounts (snapshot/layer.ApplyMounts,
//	// or layer.Unpack, which also uses an Importer fast path when the snapshotter
//	// has one, such as the EROFS snapshotter)
//	err = sn.Commit(ctx, chainID, "extract-1")
//
// The committed name is usually the layer's chain ID, so a second pull of the
// same layers finds them with Stat.
//
// # Running a container
//
//	mounts, err := sn.Prepare(ctx, containerID, imageChainID)
//	err = mount.All(mounts, rootfs) // run the container on rootfs
//	...
//	err = mount.Unmount(rootfs)
//	err = sn.Remove(ctx, containerID)
//
// # Committing a container (commit, build)
//
// The changes of an active snapshot against its parent are written as a new
// layer with snapshot/layer.DiffMounts(ctx, w, viewOfParentMounts, activeMounts).
//
// # Implementations
//
// snapshot/overlay (overlayfs, the default), snapshot/native (plain copies,
// for filesystems that cannot be an overlay upper) and snapshot/erofs (each
// layer one EROFS image file written straight from the tar, mounted
// read-only as an overlay lower: no per-file creation on disk, the fast
// path for pulls). Every implementation passes snapshot/testsuite.
// snapshot/mount performs the mounts; snapshot/layer applies and diffs.
package snapshot
