// Package layer applies OCI image layers (tar streams) to directory trees
// and writes the difference between two trees back as a layer.
//
// Apply follows the OCI image-spec layer rules: whiteouts (".wh.name") and
// opaque directories (".wh..wh..opq"), hardlinks, symlinks, xattrs (PAX
// SCHILY.xattr, including security.capability), ownership, modes with
// setuid/setgid/sticky, times (directories after their content), FIFOs and,
// when allowed, device nodes; long and UTF-8 names come from archive/tar.
//
// Every path of an entry is resolved inside the root with
// openat2(RESOLVE_IN_ROOT): a symlink in the tree (one from a lower layer or
// one the same layer created a moment earlier) is followed as if the root
// were "/", so no entry can create, replace or link anything outside it.
// Names and hardlink targets that climb above the root with ".." are
// rejected with an *UnsafePathError.
//
// In WhiteoutOverlay mode (applying into an overlayfs upper directory)
// whiteouts become overlay whiteouts (character device 0/0) and opaque
// markers the trusted.overlay.opaque=y xattr; in WhiteoutNative mode they
// delete from the tree.
//
// A failed Apply may leave the tree half-written: callers apply into a fresh
// active snapshot and remove it on error.
package layer
