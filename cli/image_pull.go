package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/image/platform"
	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/registry"
)

func addImagePullCommands() {
	Root.AddCommand(newPullCmd())
	imageCmd.AddCommand(newPullCmd())
}

func newPullCmd() *cobra.Command {
	var quiet bool
	var plat string
	c := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry and unpack it",
		Long: `Download an image from a registry into the local store and unpack its
layers into the snapshotter (--snapshotter: erofs by default, each layer one
EROFS image file; overlay; native).

Registries on loopback and private addresses are spoken to over plain HTTP;
others need TLS unless <root>/registries.json or /etc/berth/registries.json
marks them insecure. Credentials come from "berth login".`,
		Example: `  berth pull busybox
  berth pull --platform linux/arm64 localhost:5000/team/app:1.2
  berth pull -q debian@sha256:...`,
		Args: exactArgs(1, "pull"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return pull(cmd.Context(), cmd.OutOrStdout(), args[0], plat, quiet)
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress progress output, print only the image reference")
	c.Flags().StringVar(&plat, "platform", "", "pull this platform (os/arch[/variant]) of a multi-platform image")
	return c
}

// exactArgs is cobra.ExactArgs with a message in Docker's words.
func exactArgs(n int, name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%q requires exactly %d argument(s), got %d.\nSee 'berth %s --help'.\n\nUsage:  %s", name, n, len(args), cmd.CommandPath()[len("berth "):], cmd.UseLine())
		}
		return nil
	}
}

// minArgs is cobra.MinimumNArgs with a message in Docker's words.
func minArgs(n int, name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return fmt.Errorf("%q requires at least %d argument(s).\nSee 'berth %s --help'.\n\nUsage:  %s", name, n, cmd.CommandPath()[len("berth "):], cmd.UseLine())
		}
		return nil
	}
}

func pull(ctx context.Context, out io.Writer, arg, plat string, quiet bool) error {
	// Ctrl-C cancels the pull, so that it removes what it added.
	ctx, stop := signal.NotifyContext(bg(ctx), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ref, err := reference.Parse(arg)
	if err != nil {
		return err
	}
	// Fail on a bad --snapshotter before anything is created.
	if err := checkSnapshotter(globals.snapshotter); err != nil {
		return err
	}
	opts, err := registryOpts()
	if err != nil {
		return err
	}
	if plat != "" {
		p, err := platform.Parse(plat)
		if err != nil {
			return fmt.Errorf("--platform: %w", err)
		}
		opts = append(opts, registry.WithPlatform(p))
	}
	s, err := openStore()
	if err != nil {
		return err
	}
	old, oldErr := s.GetImage(ctx, ref.String())
	hadOld := oldErr == nil

	var pr *pullProgress
	if !quiet {
		pr = newPullProgress(out, isTerminal(os.Stdout) && out == io.Writer(os.Stdout))
		id := ref.Tag
		if ref.Digest != "" {
			id = ref.Digest.String()
		}
		fmt.Fprintf(out, "%s: Pulling from %s\n", id, ref.Path)
		opts = append(opts, registry.WithProgress(pr.event))
	}
	res, err := registry.Pull(ctx, s, ref, opts...)
	if pr != nil {
		pr.stop()
	}
	if err != nil {
		return err
	}
	m, err := s.Manifest(ctx, res.Image.Target, &res.Platform)
	if err == nil {
		if pr != nil {
			pr.extracting(m.Layers)
		}
		_, err = unpackImage(ctx, s, m)
	}
	if err != nil {
		// Leave the store as it was: the old record (or none) and no blobs
		// only this pull wanted.
		if hadOld {
			s.PutImage(context.WithoutCancel(ctx), old)
		} else {
			s.DeleteImage(context.WithoutCancel(ctx), ref.String())
		}
		collectGarbage(context.WithoutCancel(ctx), s)
		return fmt.Errorf("pull %s: %w", ref.Familiar(), err)
	}
	if quiet {
		fmt.Fprintln(out, ref.String())
		return nil
	}
	pr.complete()
	fmt.Fprintf(out, "Digest: %s\n", res.Image.Target.Digest)
	if hadOld && old.Target.Digest == res.Image.Target.Digest && res.Fetched == 0 {
		fmt.Fprintf(out, "Status: Image is up to date for %s\n", ref.Familiar())
	} else {
		fmt.Fprintf(out, "Status: Downloaded newer image for %s\n", ref.Familiar())
	}
	fmt.Fprintln(out, ref.String())
	return nil
}

// checkSnapshotter fails on a --snapshotter value berth does not have.
func checkSnapshotter(name string) error {
	for _, n := range snapshotters {
		if n == name {
			return nil
		}
	}
	return fmt.Errorf("--snapshotter %q: want one of %s", name, strings.Join(snapshotters, ", "))
}

// pullProgress prints one line per layer like docker: on a terminal the
// lines are redrawn in place; otherwise a line is printed whenever a
// layer's state changes.
type pullProgress struct {
	w   io.Writer
	tty bool

	mu     sync.Mutex
	order  []digest.Digest
	layers map[digest.Digest]*layerLine
	drawn  int // lines on screen (tty)
	last   time.Time
}

type layerLine struct {
	status         string
	current, total int64
}

func newPullProgress(w io.Writer, tty bool) *pullProgress {
	return &pullProgress{w: w, tty: tty, layers: map[digest.Digest]*layerLine{}}
}

func (p *pullProgress) event(e registry.Progress) {
	if e.Kind != "layer" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.layers[e.Digest]
	if l == nil {
		l = &layerLine{}
		p.layers[e.Digest] = l
		p.order = append(p.order, e.Digest)
	}
	status := ""
	switch e.State {
	case registry.StateWaiting:
		status = "Waiting"
	case registry.StateDownloading:
		status = "Downloading"
	case registry.StateRetrying:
		status = "Retrying"
	case registry.StateExists:
		status = "Already exists"
	case registry.StateDone:
		status = "Download complete"
	case registry.StateFailed:
		status = "Failed"
		if e.Err != nil {
			status += ": " + e.Err.Error()
		}
	default:
		status = string(e.State)
	}
	changed := status != l.status
	l.status, l.current, l.total = status, e.Current, e.Total
	if p.tty {
		if changed || time.Since(p.last) > 100*time.Millisecond {
			p.redraw()
		}
	} else if changed {
		fmt.Fprintf(p.w, "%s: %s\n", short(e.Digest), status)
	}
}

// extracting marks the layers being unpacked.
func (p *pullProgress) extracting(layers []ocispec.Descriptor) {
	p.set(layers, "Extracting")
}

// complete marks every downloaded layer as done.
func (p *pullProgress) complete() {
	p.mu.Lock()
	var ds []digest.Digest
	for _, d := range p.order {
		if p.layers[d].status != "Already exists" {
			ds = append(ds, d)
		}
	}
	p.mu.Unlock()
	p.setDigests(ds, "Pull complete")
}

func (p *pullProgress) set(layers []ocispec.Descriptor, status string) {
	var ds []digest.Digest
	p.mu.Lock()
	for _, l := range layers {
		if ll := p.layers[l.Digest]; ll != nil && ll.status != "Already exists" {
			ds = append(ds, l.Digest)
		}
	}
	p.mu.Unlock()
	p.setDigests(ds, status)
}

func (p *pullProgress) setDigests(ds []digest.Digest, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range ds {
		p.layers[d].status = status
		if !p.tty {
			fmt.Fprintf(p.w, "%s: %s\n", short(d), status)
		}
	}
	if p.tty {
		p.redraw()
	}
}

func (p *pullProgress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.redraw()
	}
}

// redraw moves the cursor up over the lines drawn last time and rewrites
// them (ANSI: CSI n A, CSI 2 K).
func (p *pullProgress) redraw() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, d := range p.order {
		l := p.layers[d]
		b.WriteString("\x1b[2K\r")
		b.WriteString(short(d) + ": " + l.status)
		if l.status == "Downloading" && l.total > 0 {
			fmt.Fprintf(&b, " %s %s/%s", bar(l.current, l.total), humanSize(l.current), humanSize(l.total))
		}
		b.WriteByte('\n')
	}
	p.drawn = len(p.order)
	p.last = time.Now()
	io.WriteString(p.w, b.String())
}

func bar(cur, total int64) string {
	const width = 40
	n := int(cur * width / total)
	if n > width {
		n = width
	}
	s := strings.Repeat("=", n)
	if n < width {
		s += ">" + strings.Repeat(" ", width-n-1)
	}
	return "[" + s + "]"
}

func short(d digest.Digest) string { return shortID(d, false) }
