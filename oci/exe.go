package oci

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// sealedExe returns an fd of this binary that the container cannot write
// through: /proc/<init>/exe of every process the runtime puts into a
// container points at it, and CVE-2019-5736 overwrote the runtime binary
// that way. Like runc 1.2, the binary is opened through a private,
// detached, read-only overlayfs mount of its own directory (no copy, no
// extra memory); if overlayfs cannot be used, a sealed memfd copy is made.
func sealedExe() (*os.File, error) {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	if f, err := overlaySealed(self); err == nil {
		return f, nil
	}
	return memfdSealed(self)
}

var overlayBroken sync.Once

func overlaySealed(self string) (*os.File, error) {
	dir, base := filepath.Dir(self), filepath.Base(self)
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fsfd)
	// Two copies of the same lower layer and no upper: a read-only overlay.
	if err := unix.FsconfigSetString(fsfd, "lowerdir", dir+":"+dir); err != nil {
		return nil, err
	}
	if err := unix.FsconfigSetFlag(fsfd, "ro"); err != nil {
		// "ro" is implied without upperdir on older kernels
		_ = err
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, err
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, err
	}
	defer unix.Close(mfd)
	fd, err := unix.Openat(mfd, base, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "berth-sealed"), nil
}

func memfdSealed(self string) (*os.File, error) {
	src, err := os.Open(self)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("berth-runtime", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "berth-memfd")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy runtime binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return f, nil
}
