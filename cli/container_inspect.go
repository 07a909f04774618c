package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func addContainerInspectCommands() {
	var fmtFlag, typ string
	var size bool
	c := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on containers or images",
		Long: `Print a JSON array with one Docker-compatible object per container (or
image, when no container has that name). --format applies a Go template to
each object, e.g. --format '{{.State.ExitCode}}' or '{{json .Config.Env}}'.`,
		Args: minArgs(1, "inspect"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectAny(bg(cmd.Context()), cmd.OutOrStdout(), args, fmtFlag, typ)
		},
	}
	c.Flags().StringVarP(&fmtFlag, "format", "f", "", "format output using a Go template")
	c.Flags().StringVar(&typ, "type", "", "only inspect objects of this type (container, image)")
	c.Flags().BoolVarP(&size, "size", "s", false, "display total file sizes")
	Root.AddCommand(c)

	var cfmt string
	ci := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  minArgs(1, "inspect"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectAny(bg(cmd.Context()), cmd.OutOrStdout(), args, cfmt, "container")
		},
	}
	ci.Flags().StringVarP(&cfmt, "format", "f", "", "format output using a Go template")
	containerCmd.AddCommand(ci)
}

func inspectAny(ctx context.Context, out io.Writer, args []string, fmtFlag, typ string) error {
	switch typ {
	case "", "container", "image":
	default:
		return fmt.Errorf("%q is not a valid value for --type", typ)
	}
	if typ == "image" {
		return inspectImages(ctx, out, args, fmtFlag)
	}
	e, err := openEngine()
	if err != nil {
		return err
	}
	var items []any
	var errs []error
	for _, a := range args {
		c, err := e.Get(ctx, a)
		if err == nil {
			items = append(items, e.Inspect(c))
			continue
		}
		if !errors.Is(err, engine.ErrNotFound) || typ == "container" {
			errs = append(errs, err)
			continue
		}
		// Not a container: maybe an image, as `docker inspect` falls back.
		if ierr := inspectImages(ctx, io.Discard, []string{a}, ""); ierr != nil {
			errs = append(errs, fmt.Errorf("Error: No such object: %s", a)) //nolint:staticcheck
			continue
		}
		var buf jsonBuf
		inspectImages(ctx, &buf, []string{a}, "")
		var objs []map[string]any
		json.Unmarshal(buf.b, &objs)
		for _, o := range objs {
			items = append(items, o)
		}
	}
	if err := printInspect(out, items, fmtFlag); err != nil {
		return err
	}
	if len(errs) > 0 {
		// Docker's inspect exits 1 when an object is missing.
		return &ExitError{Code: 1, Err: errors.Join(errs...)}
	}
	return nil
}

type jsonBuf struct{ b []byte }

func (j *jsonBuf) Write(p []byte) (int, error) { j.b = append(j.b, p...); return len(p), nil }
