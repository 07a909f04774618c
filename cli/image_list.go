package cli

import (
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/cli/format"
	"github.com/berth-dev/berth/image/reference"
)

type imagesOpts struct {
	quiet, digests, noTrunc, all bool
	format                       string
	filters                      []string
}

func addImagesCommands() {
	o := &imagesOpts{}
	mk := func(use string) *cobra.Command {
		c := &cobra.Command{
			Use:   use,
			Short: "List images",
			Long: `List the images in the local store.

Filters (--filter, repeatable): reference=PATTERN (a glob over the name,
e.g. "busybox" or "*/app:1*"), dangling=true|false, before=IMAGE,
since=IMAGE, label=KEY or label=KEY=VALUE.

--format takes a Go template over the fields .ID .Repository .Tag .Digest
.CreatedSince .CreatedAt .Size .Platform, "table TEMPLATE", or "json".`,
			Args: cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return listImages(cmd.Context(), cmd.OutOrStdout(), o, args)
			},
		}
		f := c.Flags()
		f.BoolVarP(&o.quiet, "quiet", "q", false, "only show image IDs")
		f.BoolVar(&o.digests, "digests", false, "show digests")
		f.BoolVar(&o.noTrunc, "no-trunc", false, "don't truncate output")
		f.BoolVarP(&o.all, "all", "a", false, "show all images (berth keeps no intermediate images)")
		f.StringVar(&o.format, "format", "", "format output using a Go template, \"table\" or \"json\"")
		f.StringArrayVarP(&o.filters, "filter", "f", nil, "filter output based on conditions provided")
		return c
	}
	Root.AddCommand(mk("images [OPTIONS] [REPOSITORY[:TAG]]"))
	imageCmd.AddCommand(mk("ls [OPTIONS] [REPOSITORY[:TAG]]"))
	imageCmd.Commands()[len(imageCmd.Commands())-1].Aliases = []string{"list"}
}

// imageCmd is `berth image`, the group of image subcommands.
var imageCmd = &cobra.Command{
	Use:   "image",
	Short: "Manage images",
	Args:  cobra.NoArgs,
	RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
}

func addImageGroup() { Root.AddCommand(imageCmd) }

// imageRow is one line of `images`; its fields are the --format fields.
type imageRow struct {
	ID           string
	Repository   string
	Tag          string
	Digest       string
	CreatedSince string
	CreatedAt    string
	Size         string
	Platform     string
	Containers   string
}

var imageHeaders = map[string]string{
	"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
}

func listImages(ctx context.Context, out io.Writer, o *imagesOpts, args []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	filters := append([]string(nil), o.filters...)
	if len(args) == 1 {
		filters = append(filters, "reference="+args[0])
	}
	s, err := openStore()
	if err != nil {
		return err
	}
	all, err := allImages(ctx, s)
	if err != nil {
		return err
	}
	keep, err := imageFilter(ctx, all, filters)
	if err != nil {
		return err
	}
	var shown []*localImage
	for _, li := range all {
		if keep(li) {
			shown = append(shown, li)
		}
	}
	// Newest first, like docker.
	sort.SliceStable(shown, func(i, j int) bool { return created(shown[i]).After(created(shown[j])) })

	if o.quiet {
		seen := map[string]bool{}
		for _, li := range shown {
			id := shortID(li.ID(), o.noTrunc)
			if !seen[id] {
				seen[id] = true
				fmt.Fprintln(out, id)
			}
		}
		return nil
	}
	def := "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	if o.digests {
		def = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	}
	f, err := format.Parse(o.format, def)
	if err != nil {
		return err
	}
	rows := make([]any, 0, len(shown))
	for _, li := range shown {
		repo, tag := repoTag(li.ref)
		r := imageRow{
			ID:           shortID(li.ID(), o.noTrunc),
			Repository:   repo,
			Tag:          tag,
			Digest:       li.rec.Target.Digest.String(),
			CreatedSince: since(created(li)),
			CreatedAt:    created(li).Format("2006-01-02 15:04:05 -0700 MST"),
			Size:         humanSize(imageSize(li)),
			Containers:   "N/A",
		}
		if li.m != nil {
			r.Platform = platformOf(li.m)
		}
		rows = append(rows, r)
	}
	return f.Execute(out, rows, imageHeaders)
}

// imageFilter compiles --filter values into one predicate.
func imageFilter(ctx context.Context, all []*localImage, filters []string) (func(*localImage) bool, error) {
	var preds []func(*localImage) bool
	refs := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter %q (expected name=value)", f)
		}
		refs[k] = append(refs[k], v)
	}
	for k, vs := range refs {
		switch k {
		case "reference":
			pats := vs
			for _, p := range pats {
				if _, err := path.Match(p, ""); err != nil {
					return nil, fmt.Errorf("filter reference=%q: %w", p, err)
				}
			}
			preds = append(preds, func(li *localImage) bool {
				repo, tag := repoTag(li.ref)
				for _, p := range pats {
					for _, cand := range []string{repo, repo + ":" + tag, li.ref.Name(), li.ref.String(), li.ref.Familiar()} {
						if ok, _ := path.Match(p, cand); ok {
							return true
						}
					}
				}
				return false
			})
		case "dangling":
			for _, v := range vs {
				switch v {
				case "true", "1":
					preds = append(preds, func(li *localImage) bool { return isDangling(li.ref) })
				case "false", "0":
					preds = append(preds, func(li *localImage) bool { return !isDangling(li.ref) })
				default:
					return nil, fmt.Errorf("invalid filter 'dangling=%s': want true or false", v)
				}
			}
		case "before", "since":
			for _, v := range vs {
				var t time.Time
				found := false
				for _, li := range all {
					if matchesArg(li, v) {
						t, found = created(li), true
						break
					}
				}
				if !found {
					return nil, fmt.Errorf("filter %s=%s: %w: %s", k, v, ErrNoSuchImage, v)
				}
				if k == "before" {
					preds = append(preds, func(li *localImage) bool { return created(li).Before(t) })
				} else {
					preds = append(preds, func(li *localImage) bool { return created(li).After(t) })
				}
			}
		case "label":
			for _, v := range vs {
				lk, lv, hasVal := strings.Cut(v, "=")
				preds = append(preds, func(li *localImage) bool {
					if li.m == nil {
						return false
					}
					got, ok := li.m.Image.Config.Labels[lk]
					return ok && (!hasVal || got == lv)
				})
			}
		default:
			return nil, fmt.Errorf("invalid filter %q (valid: reference, dangling, before, since, label)", k)
		}
	}
	return func(li *localImage) bool {
		for _, p := range preds {
			if !p(li) {
				return false
			}
		}
		return true
	}, nil
}

// matchesArg says whether the IMAGE argument a names li (by reference or
// image ID prefix), without touching the store.
func matchesArg(li *localImage, a string) bool {
	if id, ok := idPrefix(a); ok && strings.HasPrefix(li.ID().Encoded(), id) {
		return true
	}
	for _, n := range []string{li.ref.String(), li.ref.Familiar()} {
		if n == a {
			return true
		}
	}
	if r, err := parseRef(a); err == nil && r == li.ref.String() {
		return true
	}
	return false
}

func parseRef(s string) (string, error) {
	r, err := reference.Parse(s)
	if err != nil {
		return "", err
	}
	return r.String(), nil
}
