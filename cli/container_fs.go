package cli

// cp, export and commit: the commands that read or write a container's
// filesystem. The copy rules are Docker's client side (docker/cli cp.go
// with moby/go-archive's CopyInfo rules) over the engine's archive calls.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image/reference"
)

func addContainerFsCommands() {
	for _, mk := range []func() *cobra.Command{newCpCmd, newExportCmd, newCommitCmd} {
		Root.AddCommand(mk())
		containerCmd.AddCommand(mk())
	}
}

// ---- cp ----

type cpOpts struct {
	follow, archive, quiet bool
}

func newCpCmd() *cobra.Command {
	var o cpOpts
	c := &cobra.Command{
		Use: `cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
	berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`,
		Short: "Copy files/folders between a container and the local filesystem",
		Long: `Copy files/folders between a container and the local filesystem, with
Docker's rules for existing and missing destinations, trailing "/" and "/.".

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout.

Container paths are resolved inside the container (its symlinks never lead
to host files), on running and stopped containers, volumes included.`,
		Args:                  exactArgs(2, "cp"),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" {
				return errors.New("source can not be empty")
			}
			if args[1] == "" {
				return errors.New("destination can not be empty")
			}
			if !cmd.Flags().Changed("quiet") {
				// As Docker: no progress summary unless stdout is a terminal.
				f, ok := cmd.OutOrStdout().(*os.File)
				o.quiet = !ok || !isTerminal(f)
			}
			return runCp(bg(cmd.Context()), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], args[1], o)
		},
	}
	c.Flags().BoolVarP(&o.follow, "follow-link", "L", false, "Always follow symlinks in SRC_PATH")
	c.Flags().BoolVarP(&o.archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	c.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return c
}

// splitCpArg splits CONTAINER:PATH; a local path with a ":" is written
// ./a:b or /a:b (Docker's rule).
func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) {
		return "", arg
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(ctr, ".") {
		return "", arg
	}
	return ctr, p
}

func runCp(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, src, dst string, o cpOpts) error {
	srcCtr, srcPath := splitCpArg(src)
	dstCtr, dstPath := splitCpArg(dst)
	switch {
	case srcCtr != "" && dstCtr != "":
		return errors.New("copying between containers is not supported")
	case srcCtr == "" && dstCtr == "":
		return errors.New("must specify at least one container source")
	}
	e, err := openEngine()
	if err != nil {
		return err
	}
	if srcCtr != "" {
		return copyFromContainer(ctx, e, stdout, stderr, srcCtr, srcPath, dstPath, o)
	}
	return copyToContainer(ctx, e, stdin, stderr, dstCtr, srcPath, dstPath, o)
}

// resolveLocalPath makes p absolute, keeping a trailing "/" or "/.".
func resolveLocalPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return engine.PreserveTrailingDotOrSeparator(abs, p), nil
}

func copyFromContainer(ctx context.Context, e *engine.Engine, stdout, stderr io.Writer, ctr, srcPath, dstPath string, o cpOpts) error {
	if dstPath != "-" {
		var err error
		if dstPath, err = resolveLocalPath(dstPath); err != nil {
			return err
		}
		if err := validateOutputPath(dstPath); err != nil {
			return err
		}
	}
	// The copy is named after the path asked for, also when -L follows a
	// symlink to a target of another name.
	namedAs := srcPath
	if o.follow {
		if st, err := e.StatPath(ctx, ctr, srcPath); err == nil && st.Mode&os.ModeSymlink != 0 {
			srcPath = engine.PreserveTrailingDotOrSeparator(st.LinkTarget, srcPath)
		}
	}
	if dstPath == "-" {
		return e.ArchivePath(ctx, ctr, srcPath, nil, func(_ *engine.PathStat, r io.Reader) error {
			_, err := io.Copy(stdout, r)
			return err
		})
	}
	var (
		dstDir string
		isDir  bool
		size   int64
		copied atomic.Int64
	)
	name := func(st *engine.PathStat) (string, error) {
		dstInfo, err := copyInfoDestinationPath(dstPath)
		if err != nil {
			return "", err
		}
		isDir, size = st.Mode.IsDir(), st.Size
		var n string
		dstDir, n, err = engine.PrepareCopy(engine.CopyInfo{Path: namedAs, Exists: true, IsDir: isDir}, dstInfo)
		if err != nil {
			return "", fmt.Errorf("copy %s:%s to %s: %w", ctr, namedAs, dstPath, err)
		}
		return n, nil
	}
	err := e.ArchivePath(ctx, ctr, srcPath, name, func(_ *engine.PathStat, r io.Reader) error {
		return engine.Untar(ctx, dstDir, "", &countReader{r: r, n: &copied}, engine.ExtractOptions{})
	})
	if err != nil {
		return err
	}
	if !o.quiet {
		if !isDir {
			copied.Store(size)
		}
		fmt.Fprintf(stderr, "Successfully copied %s to %s\n", units.HumanSizeWithPrecision(float64(copied.Load()), 3), dstPath)
	}
	return nil
}

func copyToContainer(ctx context.Context, e *engine.Engine, stdin io.Reader, stderr io.Writer, ctr, srcPath, dstPath string, o cpOpts) error {
	if _, err := e.Get(ctx, ctr); err != nil {
		return err
	}
	if srcPath != "-" {
		var err error
		if srcPath, err = resolveLocalPath(srcPath); err != nil {
			return err
		}
	}
	dstInfo := engine.CopyInfo{Path: dstPath}
	if st, err := e.StatPath(ctx, ctr, dstPath); err == nil {
		if st.Mode&os.ModeSymlink != 0 {
			// The copy goes where the link points (inside the container).
			dstInfo.Path = st.LinkTarget
			st, err = e.StatPath(ctx, ctr, st.LinkTarget)
		}
		if err == nil {
			if st.Mode&os.ModeDevice != 0 || st.Mode&os.ModeIrregular != 0 {
				return fmt.Errorf("destination %q must be a directory or a regular file", ctr+":"+dstPath)
			}
			dstInfo.Exists, dstInfo.IsDir = true, st.Mode.IsDir()
		}
		// Other stat errors are left to the extraction, as Docker: a
		// missing destination whose parent exists is created there.
	}
	xo := engine.ExtractOptions{CopyUIDGID: o.archive}
	if srcPath == "-" {
		if !dstInfo.IsDir {
			return fmt.Errorf("destination %q must be a directory", ctr+":"+dstPath)
		}
		return e.ExtractToDir(ctx, ctr, dstInfo.Path, stdin, xo)
	}
	follow := o.follow || engine.AssertsDirectory(srcPath)
	flags := unix.O_PATH | unix.O_CLOEXEC
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	fd, err := unix.Open(srcPath, flags, 0)
	if err != nil {
		return &fs.PathError{Op: "lstat", Path: srcPath, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &fs.PathError{Op: "lstat", Path: srcPath, Err: err}
	}
	srcIsDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	dstDir, name, err := engine.PrepareCopy(engine.CopyInfo{Path: srcPath, Exists: true, IsDir: srcIsDir}, dstInfo)
	if err != nil {
		return fmt.Errorf("copy %s to %s:%s: %w", srcPath, ctr, dstPath, err)
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(engine.WriteTar(pw, fd, name))
	}()
	var copied atomic.Int64
	err = e.ExtractToDir(ctx, ctr, dstDir, &countReader{r: pr, n: &copied}, xo)
	pr.CloseWithError(errors.New("copy stopped"))
	<-done
	if err != nil {
		return err
	}
	if !o.quiet {
		n := copied.Load()
		if size, err := localContentSize(srcPath); err == nil {
			n = size
		}
		fmt.Fprintf(stderr, "Successfully copied %s to %s\n", units.HumanSizeWithPrecision(float64(n), 3), ctr+":"+dstInfo.Path)
	}
	return nil
}

// copyInfoDestinationPath describes a local destination: a final symlink
// is followed (the copy replaces its target); a missing one needs its
// parent directory.
func copyInfoDestinationPath(p string) (engine.CopyInfo, error) {
	orig := p
	fi, err := os.Lstat(p)
	for n := 0; err == nil && fi.Mode()&os.ModeSymlink != 0; n++ {
		if n > 10 {
			return engine.CopyInfo{}, fmt.Errorf("too many symlinks in %s", orig)
		}
		target, rerr := os.Readlink(p)
		if rerr != nil {
			return engine.CopyInfo{}, rerr
		}
		if !filepath.IsAbs(target) {
			dir, _ := engine.SplitPathDirEntry(p)
			target = filepath.Join(dir, target)
		}
		p = target
		fi, err = os.Lstat(p)
	}
	if err == nil {
		return engine.CopyInfo{Path: p, Exists: true, IsDir: fi.IsDir()}, nil
	}
	if !os.IsNotExist(err) {
		return engine.CopyInfo{}, err
	}
	dir, _ := engine.SplitPathDirEntry(p)
	pfi, err := os.Stat(dir)
	if err != nil {
		return engine.CopyInfo{}, err
	}
	if !pfi.IsDir() {
		return engine.CopyInfo{}, fmt.Errorf("%s: %w", dir, engine.ErrNotDirectory)
	}
	return engine.CopyInfo{Path: p}, nil
}

// validateOutputPath is Docker's check of a local destination.
func validateOutputPath(p string) error {
	dir := filepath.Dir(filepath.Clean(p))
	if dir != "" && dir != "." {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return fmt.Errorf("invalid output path: directory %q does not exist", dir)
		}
	}
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() && !fi.Mode().IsRegular() {
		return fmt.Errorf("invalid output path: %q must be a directory or a regular file", p)
	}
	return nil
}

// localContentSize is the size of the regular files under p.
func localContentSize(p string) (int64, error) {
	var total int64
	err := filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	return total, err
}

type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// ---- export ----

func newExportCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Long: `Write the container's filesystem, flattened (image layers and the
container's changes; volumes are not included), as a tar archive to STDOUT
or to the file given with -o, which appears only once it is complete.`,
		Args: exactArgs(1, "export"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return export(bg(cmd.Context()), cmd.OutOrStdout(), args[0], output)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return c
}

func export(ctx context.Context, stdout io.Writer, ref, output string) error {
	if output == "" {
		if f, ok := stdout.(*os.File); ok && isTerminal(f) {
			return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
	}
	e, err := openEngine()
	if err != nil {
		return err
	}
	if _, err := e.Get(ctx, ref); err != nil {
		return err
	}
	if output == "" {
		return e.Export(ctx, ref, stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".tmp-")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := e.Export(ctx, ref, tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("export %s: %w", output, err)
	}
	if err := os.Rename(tmp.Name(), output); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	tmp = nil
	return nil
}

// ---- commit ----

func newCommitCmd() *cobra.Command {
	var o engine.CommitOptions
	c := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Long: `Make an image of the container: its image's layers plus one layer of what
the container changed (deleted files as whiteouts), with the container's
config changed by --change (Dockerfile instructions CMD, ENTRYPOINT, ENV,
EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL). A running
container is paused meanwhile unless --pause=false. Prints the image ID.`,
		Example: `  berth commit -c 'CMD ["sh","-c","cat /data"]' -c 'ENV MODE=prod' web web:v2`,
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			return commit(bg(cmd.Context()), cmd.OutOrStdout(), args[0], name, o)
		},
	}
	c.Flags().StringVarP(&o.Author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	c.Flags().StringVarP(&o.Message, "message", "m", "", "Commit message")
	c.Flags().StringArrayVarP(&o.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	c.Flags().BoolVarP(&o.Pause, "pause", "p", true, "Pause container during commit")
	return c
}

func commit(ctx context.Context, out io.Writer, ref, name string, o engine.CommitOptions) error {
	if name != "" {
		r, err := reference.Parse(name)
		if err != nil {
			return err
		}
		if r.Digest != "" {
			return fmt.Errorf("invalid reference %s: refusing to create a tag with a digest reference", name)
		}
		o.Name = r.String()
	}
	e, err := openEngine()
	if err != nil {
		return err
	}
	s, err := openStore()
	if err != nil {
		return err
	}
	res, err := e.Commit(ctx, ref, s, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, res.ID)
	return nil
}
