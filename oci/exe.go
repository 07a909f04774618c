package oci

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// sealedExe returns an fd of the stage binary (see stageBinary) that the
// container cannot write through: /proc/<init>/exe of every process the
// runtime puts into a container points at it, and CVE-2019-5736 overwrote
// the runtime binary that way. Like runc 1.2, the binary is opened through
// a private, detached, read-only overlayfs mount of its own directory (no
// copy, no extra memory); if overlayfs cannot be used, a sealed memfd copy
// is made.
func sealedExe(root string) (*sealed, error) {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	bin := stageBinary(self)
	// overlayfs needs two lower layers to be read-only without an upper:
	// the second is an empty directory of ours.
	dummy := filepath.Join(root, ".exe-lower")
	if err := os.Mkdir(dummy, 0o700); err == nil || os.IsExist(err) {
		if s, err := overlaySealed(bin, dummy); err == nil {
			return s, nil
		}
	}
	f, err := memfdSealed(bin)
	if err != nil {
		return nil, err
	}
	return &sealed{File: f, mnt: -1}, nil
}

// InitBinary is the file name of the stand-alone init stage
// (cmd/berth-init), looked for beside the runtime's binary.
const InitBinary = "berth-init"

// stageBinary is the program the init and exec stages are exec'd from:
// berth-init beside the runtime's binary when it is there and as safe as
// the runtime itself (a regular executable owned by root or by us that
// nobody else may write, in a directory nobody else may write; through
// symlinks, the file they name), else the runtime's own binary, whose C
// constructor runs the same stage code. BERTH_INIT names another
// candidate (tests), BERTH_INIT=self forces the runtime's own binary.
func stageBinary(self string) string {
	cand := os.Getenv("BERTH_INIT")
	if cand == "self" {
		return self
	}
	if cand == "" {
		cand = filepath.Join(filepath.Dir(self), InitBinary)
	}
	// A packaged berth-init may be a symlink: what is checked and sealed
	// is the file it names. Its directory too must be writable by nobody
	// else (sticky or not): the overlay view opens the file by name later.
	real, err := filepath.EvalSymlinks(cand)
	if err != nil {
		return self
	}
	for _, p := range []string{filepath.Dir(real), real} {
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil || st.Mode&0o022 != 0 || st.Uid != 0 && int(st.Uid) != os.Geteuid() {
			return self
		}
		if p == real && (st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0) {
			return self
		}
	}
	return real
}

// sealed is the stage binary opened so that a container cannot write
// it: Fd is what the stages are exec'd from.
type sealed struct {
	*os.File     // O_PATH handle in the overlay, or the memfd
	mnt      int // the detached overlay mount, -1 without one
}

// Close releases the binary. With the overlay, the last references wait
// for RCU grace periods (dissolving the detached tree, then freeing
// overlayfs's private mounts), 0.1-0.5 ms each on this host; whoever
// drops the last reference pays, so a caller on a container's critical
// path uses release.
func (s *sealed) Close() error {
	if s.mnt >= 0 {
		unix.Close(s.mnt)
		s.mnt = -1
	}
	return s.File.Close()
}

// release closes in the background. Held until the container process has
// replaced the stage that was exec'd from it, the overlay's last reference
// is then ours, and nobody waits for its teardown.
func (s *sealed) release() {
	if s != nil {
		go s.Close()
	}
}

func escapeLower(p string) string {
	return strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), `:`, `\:`)
}

func overlaySealed(self, dummy string) (*sealed, error) {
	dir, base := filepath.Dir(self), filepath.Base(self)
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetString(fsfd, "lowerdir", escapeLower(dir)+":"+escapeLower(dummy)); err != nil {
		return nil, err
	}
	_ = unix.FsconfigSetString(fsfd, "xino", "off") // only to keep dmesg quiet
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, err
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Openat(mfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(mfd)
		return nil, err
	}
	// (a symlink would be opened as one, and exec'ing it fails: the memfd
	// copy follows it instead)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		unix.Close(mfd)
		return nil, fmt.Errorf("sealed view of %s is not a regular file", self)
	}
	return &sealed{File: os.NewFile(uintptr(fd), "berth-sealed"), mnt: mfd}, nil
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
