package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/image/archive"
	"github.com/berth-dev/berth/image/layout"
	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/registry"
	"github.com/berth-dev/berth/image/store"
)

func bg(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// ---- tag ----

func addTagCommands() {
	mk := func() *cobra.Command {
		return &cobra.Command{
			Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
			Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
			Args:  exactArgs(2, "tag"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return tag(bg(cmd.Context()), args[0], args[1])
			},
		}
	}
	Root.AddCommand(mk())
	imageCmd.AddCommand(mk())
}

func tag(ctx context.Context, src, dst string) error {
	dref, err := reference.Parse(dst)
	if err != nil {
		return err
	}
	s, err := openStore()
	if err != nil {
		return err
	}
	lis, err := findImages(ctx, s, src)
	if err != nil {
		return err
	}
	if err := s.PutImage(ctx, store.Image{Name: dref.String(), Target: lis[0].rec.Target, Labels: lis[0].rec.Labels}); err != nil {
		return err
	}
	// A named image is no longer dangling: its untagged record goes.
	for _, li := range lis {
		if isDangling(li.ref) && li.rec.Name != dref.String() {
			s.DeleteImage(ctx, li.rec.Name)
		}
	}
	return nil
}

// ---- rmi ----

func addRmiCommands() {
	var force, noPrune bool
	mk := func(use string) *cobra.Command {
		c := &cobra.Command{
			Use:   use,
			Short: "Remove one or more images",
			Long: `Remove image names. An image ID removes every name of that image (with
-f when it has several). Blobs and snapshots that no remaining image uses
are deleted afterwards.`,
			Args: minArgs(1, "rmi"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return rmi(bg(cmd.Context()), cmd.OutOrStdout(), args, force, noPrune)
			},
		}
		c.Flags().BoolVarP(&force, "force", "f", false, "remove every name of an image given by ID")
		c.Flags().BoolVar(&noPrune, "no-prune", false, "do not delete unused blobs and snapshots")
		return c
	}
	Root.AddCommand(mk("rmi [OPTIONS] IMAGE [IMAGE...]"))
	rm := mk("rm [OPTIONS] IMAGE [IMAGE...]")
	rm.Aliases = []string{"remove"}
	imageCmd.AddCommand(rm)
}

func rmi(ctx context.Context, out io.Writer, args []string, force, noPrune bool) error {
	s, err := openStore()
	if err != nil {
		return err
	}
	var errs []error
	removedIDs := map[digest.Digest]bool{}
	for _, a := range args {
		lis, err := findImages(ctx, s, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		byRef := len(lis) == 1 && !looksLikeID(a)
		if !byRef && len(lis) > 1 && !force {
			errs = append(errs, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", a))
			continue
		}
		for _, li := range lis {
			if err := s.DeleteImage(ctx, li.rec.Name); err != nil {
				errs = append(errs, err)
				continue
			}
			if li.ref.Tag != "" && li.ref.Digest == "" {
				fmt.Fprintf(out, "Untagged: %s\n", li.ref.Familiar())
			} else {
				repo, _ := repoTag(li.ref)
				fmt.Fprintf(out, "Untagged: %s@%s\n", repo, li.rec.Target.Digest)
			}
			removedIDs[li.ID()] = true
		}
	}
	if len(removedIDs) > 0 && !noPrune {
		all, err := allImages(ctx, s)
		if err != nil {
			return err
		}
		for _, li := range all {
			delete(removedIDs, li.ID()) // still named elsewhere
		}
		if _, err := collectGarbage(ctx, s); err != nil {
			errs = append(errs, err)
		}
		for id := range removedIDs {
			if ok, _ := s.Exists(id); !ok {
				fmt.Fprintf(out, "Deleted: %s\n", id)
			}
		}
	}
	return errors.Join(errs...)
}

// looksLikeID says whether an rmi argument is meant as an image ID.
func looksLikeID(a string) bool {
	if strings.HasPrefix(a, "sha256:") {
		return true
	}
	if _, err := reference.Parse(a); err != nil {
		_, ok := idPrefix(a)
		return ok
	}
	// A short hex word parses as a repository name too ("abc123"): Docker
	// tries the name first, and so does findImages; only the ID path can
	// return several records.
	return false
}

// ---- image prune ----

func addImagePruneCommands() {
	var all, force bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images, blobs and snapshots",
		Long: `Delete blobs and snapshots that no image uses (what rmi and failed or
interrupted pulls leave behind). With -a, remove every image first that
no container snapshot is based on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return prune(bg(cmd.Context()), cmd.OutOrStdout(), all)
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "remove all images not used by containers")
	c.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	c.Flags().StringArrayVar(&filters, "filter", nil, "accepted for compatibility")
	imageCmd.AddCommand(c)
}

func prune(ctx context.Context, out io.Writer, all bool) error {
	s, err := openStore()
	if err != nil {
		return err
	}
	if !all {
		// Docker's prune without -a: the dangling (untagged) images no
		// container uses.
		used, err := usedChains(ctx)
		if err != nil {
			return err
		}
		imgs, err := allImages(ctx, s)
		if err != nil {
			return err
		}
		for _, li := range imgs {
			if !isDangling(li.ref) {
				continue
			}
			if li.m != nil && len(li.m.Image.RootFS.DiffIDs) > 0 && used[chainTop(li.m.Image.RootFS.DiffIDs)] {
				continue
			}
			if err := s.DeleteImage(ctx, li.rec.Name); err != nil {
				return err
			}
			fmt.Fprintf(out, "deleted: %s\n", li.ID())
		}
	}
	if all {
		used, err := usedChains(ctx)
		if err != nil {
			return err
		}
		imgs, err := allImages(ctx, s)
		if err != nil {
			return err
		}
		for _, li := range imgs {
			if li.m != nil && len(li.m.Image.RootFS.DiffIDs) > 0 {
				chain := chainTop(li.m.Image.RootFS.DiffIDs)
				if used[chain] {
					continue
				}
			}
			if err := s.DeleteImage(ctx, li.rec.Name); err != nil {
				return err
			}
			fmt.Fprintf(out, "untagged: %s\n", li.ref.Familiar())
		}
	}
	rep, err := collectGarbage(ctx, s)
	if err != nil {
		return err
	}
	for _, d := range rep.Blobs {
		fmt.Fprintf(out, "deleted: %s\n", d)
	}
	fmt.Fprintf(out, "\nTotal reclaimed space: %s (%d blobs, %d snapshots)\n", humanSize(rep.Bytes), len(rep.Blobs), rep.Snapshots)
	return nil
}

// ---- push ----

func addPushCommands() {
	mk := func() *cobra.Command {
		var quiet bool
		c := &cobra.Command{
			Use:   "push [OPTIONS] NAME[:TAG]",
			Short: "Upload an image to a registry",
			Long: `Upload an image to the registry its name points at. Blobs the registry
has are skipped, and blobs this store pulled from another repository of
the same registry are mounted instead of uploaded.`,
			Args: exactArgs(1, "push"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return push(bg(cmd.Context()), cmd.OutOrStdout(), args[0], quiet)
			},
		}
		c.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
		return c
	}
	Root.AddCommand(mk())
	imageCmd.AddCommand(mk())
}

func push(ctx context.Context, out io.Writer, arg string, quiet bool) error {
	ref, err := reference.Parse(arg)
	if err != nil {
		return err
	}
	if ref.Digest != "" {
		return fmt.Errorf("push %s: a digest reference cannot be pushed; tag the image first", arg)
	}
	s, err := openStore()
	if err != nil {
		return err
	}
	if _, err := s.GetImage(ctx, ref.String()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("An image does not exist locally with the tag: %s", ref.Familiar()) //nolint:staticcheck // Docker's wording
		}
		return err
	}
	opts, err := registryOpts()
	if err != nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(out, "The push refers to repository [%s]\n", ref.Name())
		opts = append(opts, registry.WithProgress(func(p registry.Progress) {
			switch p.State {
			case registry.StateDone:
				if p.Kind == "layer" {
					fmt.Fprintf(out, "%s: Pushed\n", short(p.Digest))
				}
			case registry.StateExists:
				if p.Kind == "layer" {
					fmt.Fprintf(out, "%s: Layer already exists\n", short(p.Digest))
				}
			}
		}))
	}
	desc, err := registry.Push(ctx, s, ref.String(), ref, opts...)
	if err != nil {
		return err
	}
	if quiet {
		fmt.Fprintln(out, ref.String())
		return nil
	}
	fmt.Fprintf(out, "%s: digest: %s size: %d\n", ref.Tag, desc.Digest, desc.Size)
	return nil
}

// ---- save / load ----

func addSaveCommands() {
	var output, fmtName, plat string
	mk := func() *cobra.Command {
		c := &cobra.Command{
			Use:   "save [OPTIONS] IMAGE [IMAGE...]",
			Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
			Long: `Write images to a tar archive: docker-archive (what docker save writes and
docker load reads) by default, or --format oci-archive (an OCI image layout
in a tar; one image). The file appears only once it is complete.`,
			Args: minArgs(1, "save"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return save(bg(cmd.Context()), cmd.OutOrStdout(), args, output, fmtName, plat)
			},
		}
		c.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
		c.Flags().StringVar(&fmtName, "format", "docker-archive", "archive format: docker-archive or oci-archive")
		c.Flags().StringVar(&plat, "platform", "", "platform to save from a multi-platform image")
		return c
	}
	Root.AddCommand(mk())
	imageCmd.AddCommand(mk())
}

func save(ctx context.Context, stdout io.Writer, args []string, output, fmtName, plat string) error {
	if fmtName != "docker-archive" && fmtName != "oci-archive" {
		return fmt.Errorf("--format %q: want docker-archive or oci-archive", fmtName)
	}
	if fmtName == "oci-archive" && len(args) != 1 {
		return fmt.Errorf("--format oci-archive holds one image, got %d", len(args))
	}
	if output == "" && stdout == io.Writer(os.Stdout) && isTerminal(os.Stdout) {
		return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
	}
	var aopts []archive.Opt
	if plat != "" {
		p, err := parsePlatform(plat)
		if err != nil {
			return err
		}
		aopts = append(aopts, archive.WithPlatform(p))
	}
	s, err := openStore()
	if err != nil {
		return err
	}
	var names []string
	for _, a := range args {
		lis, err := findImages(ctx, s, a)
		if err != nil {
			return err
		}
		names = append(names, lis[0].rec.Name)
		if plat == "" && len(args) == 1 && lis[0].m != nil {
			// An image pulled for another platform only: save what is
			// there rather than fail looking for the host's.
			aopts = append(aopts, archive.WithPlatform(configPlatform(lis[0].m)))
		}
	}
	w := stdout
	var tmp *os.File
	if output != "" {
		tmp, err = os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".tmp-")
		if err != nil {
			return fmt.Errorf("save: %w", err)
		}
		defer func() {
			if tmp != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		w = tmp
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if fmtName == "oci-archive" {
		err = archive.SaveOCI(ctx, s, names[0], bw, aopts...)
	} else {
		err = archive.SaveDocker(ctx, s, names, bw, aopts...)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return err
	}
	if tmp != nil {
		if err := tmp.Chmod(0o644); err != nil {
			return err
		}
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("save %s: %w", output, err)
		}
		if err := os.Rename(tmp.Name(), output); err != nil {
			return fmt.Errorf("save: %w", err)
		}
		tmp = nil
	}
	return nil
}

func addLoadCommands() {
	var input string
	var quiet bool
	mk := func() *cobra.Command {
		c := &cobra.Command{
			Use:   "load [OPTIONS]",
			Short: "Load images from a tar archive or STDIN",
			Long: `Load images from a docker-archive (docker save) or an oci-archive (tar of
an OCI layout); the format is detected. Loaded images are unpacked into the
snapshotter.`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				return load(bg(cmd.Context()), cmd.InOrStdin(), cmd.OutOrStdout(), input, quiet)
			},
		}
		c.Flags().StringVarP(&input, "input", "i", "", "read from tar archive file, instead of STDIN")
		c.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the load output")
		return c
	}
	Root.AddCommand(mk())
	imageCmd.AddCommand(mk())
}

func load(ctx context.Context, stdin io.Reader, out io.Writer, input string, quiet bool) error {
	if input == "" {
		if f, ok := stdin.(*os.File); ok && isTerminal(f) {
			return errors.New("requested load from stdin, but stdin is empty (use -i FILE or redirect)")
		}
		// The archive readers need a file they can seek and reopen.
		tmp, err := os.CreateTemp("", "berth-load-")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		if _, err := io.Copy(tmp, stdin); err != nil {
			tmp.Close()
			return fmt.Errorf("load: read stdin: %w", err)
		}
		tmp.Close()
		input = tmp.Name()
	}
	kind, err := archiveKind(input)
	if err != nil {
		return err
	}
	s, err := openStore()
	if err != nil {
		return err
	}
	var imgs []store.Image
	if kind == "docker-archive" {
		imgs, err = archive.LoadDocker(ctx, s, input)
	} else {
		imgs, err = archive.LoadOCI(ctx, s, input)
	}
	if err != nil {
		return err
	}
	return afterLoad(ctx, s, out, imgs, quiet, "Loaded image")
}

// afterLoad unpacks loaded or imported images and reports them.
func afterLoad(ctx context.Context, s *store.Store, out io.Writer, imgs []store.Image, quiet bool, verb string) error {
	for _, img := range imgs {
		m, err := manifestOf(ctx, s, img)
		if err != nil {
			return err
		}
		if _, err := unpackImage(ctx, s, m); err != nil {
			return err
		}
		name := img.Name
		if r, err := reference.Parse(img.Name); err == nil {
			name = r.Familiar()
		}
		if !quiet {
			fmt.Fprintf(out, "%s: %s\n", verb, name)
		}
	}
	return nil
}

// archiveKind tells a docker-archive (manifest.json) from an oci-archive
// (oci-layout, index.json) by the names in the tar. Archives written by
// recent Docker hold both; the docker manifest is preferred (it has the
// tags).
func archiveKind(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("load: %w", err)
	}
	defer f.Close()
	names, err := tarNames(f)
	if err != nil {
		return "", fmt.Errorf("load %s: not a tar archive: %w", path, err)
	}
	switch {
	case names["manifest.json"]:
		return "docker-archive", nil
	case names["oci-layout"] || names["index.json"]:
		return "oci-archive", nil
	}
	return "", fmt.Errorf("load %s: neither a docker-archive (no manifest.json) nor an oci-archive (no oci-layout)", path)
}

// ---- image export / import (OCI layouts) ----

func addImageExportCommands() {
	var plat string
	c := &cobra.Command{
		Use:   "export IMAGE DIR",
		Short: "Write an image into an OCI image layout directory",
		Long: `Write an image into the OCI image layout DIR (created if missing; an
existing layout gets the image added), readable by skopeo ("oci:DIR:TAG"),
umoci and buildah.`,
		Args: exactArgs(2, "image export"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			s, err := openStore()
			if err != nil {
				return err
			}
			lis, err := findImages(ctx, s, args[0])
			if err != nil {
				return err
			}
			var lopts []layout.Opt
			if plat == "" && lis[0].m != nil {
				lopts = append(lopts, layout.WithPlatform(configPlatform(lis[0].m)))
			}
			if plat != "" {
				p, err := parsePlatform(plat)
				if err != nil {
					return err
				}
				lopts = append(lopts, layout.WithPlatform(p))
			}
			_, err = layout.Export(ctx, s, lis[0].rec.Name, args[1], lopts...)
			return err
		},
	}
	c.Flags().StringVar(&plat, "platform", "", "platform to export from a partly pulled multi-platform image")
	imageCmd.AddCommand(c)

	var quiet bool
	ic := &cobra.Command{
		Use:   "import DIR [REPOSITORY[:TAG]]",
		Short: "Import the images of an OCI image layout directory",
		Long: `Store every image listed in the OCI layout DIR's index.json and name it
from its io.containerd.image.name annotation, or its ref.name tag in
REPOSITORY (required when an entry has only a tag).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			var lopts []layout.Opt
			if len(args) == 2 {
				r, err := reference.Parse(args[1])
				if err != nil {
					return err
				}
				lopts = append(lopts, layout.WithName(r))
			}
			if _, err := os.Stat(filepath.Join(args[0], "index.json")); err != nil {
				return fmt.Errorf("import %s: not an OCI layout: %w", args[0], err)
			}
			s, err := openStore()
			if err != nil {
				return err
			}
			imgs, err := layout.Import(ctx, s, args[0], lopts...)
			if err != nil {
				return err
			}
			return afterLoad(ctx, s, cmd.OutOrStdout(), imgs, quiet, "Imported image")
		},
	}
	ic.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress output")
	imageCmd.AddCommand(ic)
}
