package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/cli/format"
	"github.com/berth-dev/berth/image/store"
)

func addImageInspectCommands() {
	var fmtFlag string
	c := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Long: `Print a JSON array with one Docker-compatible object per image (Id,
RepoTags, RepoDigests, Created, Config, Architecture, Os, Size, RootFS, ...).
--format applies a Go template to each object instead, e.g.
--format '{{.Id}}' or --format '{{json .Config.Env}}'.`,
		Args: minArgs(1, "inspect"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectImages(cmd.Context(), cmd.OutOrStdout(), args, fmtFlag)
		},
	}
	c.Flags().StringVarP(&fmtFlag, "format", "f", "", "format output using a Go template")
	imageCmd.AddCommand(c)
}

// inspectConfig is Docker's image Config object.
type inspectConfig struct {
	Hostname     string
	Domainname   string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	ArgsEscaped  bool `json:",omitempty"`
	Image        string
	Volumes      map[string]struct{}
	WorkingDir   string
	Entrypoint   []string
	OnBuild      []string
	Labels       map[string]string
	StopSignal   string `json:",omitempty"`
}

// inspectImage is Docker's `image inspect` object.
type inspectImage struct {
	Id            string //nolint:revive // Docker's field name
	RepoTags      []string
	RepoDigests   []string
	Parent        string
	Comment       string
	Created       string
	DockerVersion string
	Author        string
	Config        inspectConfig
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Size          int64
	GraphDriver   struct {
		Name string
		Data map[string]string
	}
	RootFS struct {
		Type   string
		Layers []string
	}
	Metadata struct {
		LastTagTime string
	}
}

func inspectImages(ctx context.Context, out io.Writer, args []string, fmtFlag string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := openStore()
	if err != nil {
		return err
	}
	all, err := allImages(ctx, s)
	if err != nil {
		return err
	}
	var objs []inspectImage
	var errs []error
	for _, a := range args {
		lis, err := findImages(ctx, s, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if lis[0].m == nil {
			errs = append(errs, fmt.Errorf("image %s: content incomplete in the store", a))
			continue
		}
		objs = append(objs, toInspect(lis[0], all))
	}
	if err := printInspect(out, objs, fmtFlag); err != nil {
		return err
	}
	return errors.Join(errs...)
}

func toInspect(li *localImage, all []*localImage) inspectImage {
	m := li.m
	img := m.Image
	var o inspectImage
	o.Id = m.Config.Digest.String()
	o.RepoTags, o.RepoDigests = []string{}, []string{}
	seenDig := map[string]bool{}
	for _, x := range all {
		if x.ID() != li.ID() {
			continue
		}
		if x.ref.Tag != "" && x.ref.Digest == "" {
			o.RepoTags = append(o.RepoTags, x.ref.Familiar())
		}
		repo, _ := repoTag(x.ref)
		d := repo + "@" + x.rec.Target.Digest.String()
		if !seenDig[d] {
			seenDig[d] = true
			o.RepoDigests = append(o.RepoDigests, d)
		}
	}
	if img.Created != nil {
		o.Created = img.Created.UTC().Format(time.RFC3339Nano)
	}
	o.Author = img.Author
	c := img.Config
	o.Config = inspectConfig{
		User: c.User, Env: c.Env, Cmd: c.Cmd, Entrypoint: c.Entrypoint,
		WorkingDir: c.WorkingDir, Labels: c.Labels, StopSignal: c.StopSignal,
		ExposedPorts: c.ExposedPorts, Volumes: c.Volumes, ArgsEscaped: c.ArgsEscaped, //nolint:staticcheck // Docker shows it
	}
	if len(img.History) > 0 {
		o.Comment = img.History[len(img.History)-1].Comment
	}
	o.Architecture, o.Variant, o.Os = img.Architecture, img.Variant, img.OS
	o.Size = imageSize(li)
	o.GraphDriver.Name = globals.snapshotter
	o.GraphDriver.Data = map[string]string{}
	o.RootFS.Type = "layers"
	for _, d := range img.RootFS.DiffIDs {
		o.RootFS.Layers = append(o.RootFS.Layers, d.String())
	}
	if li.rec.Updated.After(li.rec.Created) {
		o.Metadata.LastTagTime = li.rec.Updated.UTC().Format(time.RFC3339Nano)
	} else {
		o.Metadata.LastTagTime = "0001-01-01T00:00:00Z"
	}
	return o
}

func addHistoryCommands() {
	var human, noTrunc, quiet bool
	var fmtFlag string
	mk := func(use string) *cobra.Command {
		c := &cobra.Command{
			Use:   use,
			Short: "Show the history of an image",
			Long: `Show the history of an image from its config: one row per step, newest
first, with the layer it added (SIZE: compressed) or 0B for steps that
changed only the config.`,
			Args: exactArgs(1, "history"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return history(cmd.Context(), cmd.OutOrStdout(), args[0], human, noTrunc, quiet, fmtFlag)
			},
		}
		f := c.Flags()
		f.BoolVarP(&human, "human", "H", true, "print sizes and dates in human readable format")
		f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
		f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
		f.StringVar(&fmtFlag, "format", "", "format output using a Go template")
		return c
	}
	Root.AddCommand(mk("history [OPTIONS] IMAGE"))
	imageCmd.AddCommand(mk("history [OPTIONS] IMAGE"))
}

type historyRow struct {
	ID           string
	CreatedSince string
	CreatedAt    string
	CreatedBy    string
	Size         string
	Comment      string
}

var historyHeaders = map[string]string{
	"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
}

func history(ctx context.Context, out io.Writer, arg string, human, noTrunc, quiet bool, fmtFlag string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := openStore()
	if err != nil {
		return err
	}
	lis, err := findImages(ctx, s, arg)
	if err != nil {
		return err
	}
	li := lis[0]
	if li.m == nil {
		return fmt.Errorf("image %s: content incomplete in the store", arg)
	}
	rows := historyRows(li.m, li.ID().String())
	if quiet {
		for _, r := range rows {
			fmt.Fprintln(out, shortOrMissing(r.id, noTrunc))
		}
		return nil
	}
	f, err := format.Parse(fmtFlag, "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}")
	if err != nil {
		return err
	}
	items := make([]any, 0, len(rows))
	for _, r := range rows {
		by := strings.ReplaceAll(r.by, "\t", " ")
		if !noTrunc && len(by) > 45 {
			by = by[:44] + "…"
		}
		hr := historyRow{ID: shortOrMissing(r.id, noTrunc), CreatedBy: by, Comment: r.comment}
		if human {
			hr.CreatedSince = since(r.created)
			hr.Size = humanSize(r.size)
		} else {
			hr.CreatedSince = r.created.Format(time.RFC3339)
			hr.Size = fmt.Sprint(r.size)
		}
		if !r.created.IsZero() {
			hr.CreatedAt = r.created.Format(time.RFC3339)
		}
		items = append(items, hr)
	}
	return f.Execute(out, items, historyHeaders)
}

type histEntry struct {
	id, by, comment string
	created         time.Time
	size            int64
}

// historyRows pairs the config's history with the layers, newest first.
// A config without history gets one row per layer.
func historyRows(m *store.Manifest, id string) []histEntry {
	var rows []histEntry
	li := 0
	if len(m.Image.History) == 0 {
		for _, l := range m.Layers {
			rows = append(rows, histEntry{size: l.Size})
		}
		if m.Image.Created != nil && len(rows) > 0 {
			rows[len(rows)-1].created = *m.Image.Created
		}
	}
	for _, h := range m.Image.History {
		e := histEntry{by: h.CreatedBy, comment: h.Comment}
		if h.Created != nil {
			e.created = *h.Created
		}
		if !h.EmptyLayer && li < len(m.Layers) {
			e.size = m.Layers[li].Size
			li++
		}
		rows = append(rows, e)
	}
	// Newest first; the top row carries the image ID, the rest <missing>.
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	if len(rows) > 0 {
		rows[0].id = id
	}
	return rows
}

func shortOrMissing(id string, noTrunc bool) string {
	if id == "" {
		return "<missing>"
	}
	if noTrunc {
		return id
	}
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}
