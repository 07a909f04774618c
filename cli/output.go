package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/berth-dev/berth/cli/format"
)

// printInspect writes inspect objects as Docker does: a JSON array, or
// with --format the template run once per object. Templates see the JSON
// shape (map keys are the JSON names), as Docker's run over the API object.
func printInspect[T any](out io.Writer, objs []T, fmtFlag string) error {
	if fmtFlag == "" {
		if objs == nil {
			objs = []T{}
		}
		b, err := json.MarshalIndent(objs, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	}
	f, err := format.Parse(fmtFlag, "")
	if err != nil {
		return err
	}
	items := make([]any, 0, len(objs))
	for _, o := range objs {
		b, _ := json.Marshal(o)
		var m map[string]any
		json.Unmarshal(b, &m)
		items = append(items, m)
	}
	return f.Execute(out, items, nil)
}

// printDeleted lists what a prune removed, under Docker's heading.
func printDeleted(out io.Writer, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintln(out, title)
	for _, it := range items {
		fmt.Fprintln(out, it)
	}
	fmt.Fprintln(out)
}
