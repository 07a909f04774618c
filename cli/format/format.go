// Package format renders command output through Go templates the way the
// Docker CLI's --format flag does: "table" and "table TEMPLATE" print
// tab-aligned columns under a header row, "json" (or "{{json .}}") prints
// one JSON object per line, anything else is a template executed once per
// item. The template functions are Docker's: json, join, split, lower,
// upper, title, truncate, pad and println.
package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"text/template/parse"
)

// Table and JSON are the two special formats.
const (
	TablePrefix = "table"
	JSONFormat  = "json"
)

// Funcs are the template functions available to every format.
var Funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(b.String(), "\n"), nil
	},
	"join":  strings.Join,
	"split": strings.Split,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
	"println": fmt.Sprintln,
}

// Format is a parsed --format value.
type Format struct {
	tmpl  *template.Template
	table bool
	json  bool
}

// Parse parses format. def is the template used for "" and for a bare
// "table" (a "table ..." value itself, e.g. "table {{.ID}}\t{{.Size}}").
func Parse(format, def string) (*Format, error) {
	f := &Format{}
	switch t := strings.TrimSpace(format); {
	case t == "":
		format = def
	case t == JSONFormat:
		f.json = true
		format = "{{json .}}"
	case t == TablePrefix:
		format = def
	}
	if rest, ok := strings.CutPrefix(format, TablePrefix); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
		f.table = true
		format = strings.TrimLeft(rest, " ")
	}
	// Docker lets users write \t and \n as two characters.
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	tmpl, err := template.New("format").Funcs(Funcs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("--format %q: %w", format, err)
	}
	f.tmpl = tmpl
	return f, nil
}

// IsTable says whether the output has a header row and aligned columns.
func (f *Format) IsTable() bool { return f.table }

// Execute renders items to w. headers maps the template's field names to
// the column titles of a table (e.g. "ID" → "IMAGE ID"); a field missing
// from it is titled by its upper-cased name.
func (f *Format) Execute(w io.Writer, items []any, headers map[string]string) error {
	out := w
	var tw *tabwriter.Writer
	if f.table {
		tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		out = tw
		if err := f.header(tw, headers); err != nil {
			return err
		}
	}
	for _, it := range items {
		var b bytes.Buffer
		if err := f.tmpl.Execute(&b, it); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		line := strings.TrimSuffix(b.String(), "\n")
		fmt.Fprintln(out, line)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// header renders the template once over a map of column titles, the way
// Docker does, so that "{{.ID}}\t{{.Size}}" gives "IMAGE ID\tSIZE".
func (f *Format) header(w io.Writer, headers map[string]string) error {
	titles := map[string]string{}
	for _, name := range fields(f.tmpl.Tree.Root) {
		if t, ok := headers[name]; ok {
			titles[name] = t
		} else {
			titles[name] = strings.ToUpper(name)
		}
	}
	var b bytes.Buffer
	if err := f.tmpl.Execute(&b, titles); err != nil {
		return nil // a template that cannot title itself gets no header row
	}
	fmt.Fprintln(w, strings.TrimSuffix(b.String(), "\n"))
	return nil
}

// fields lists the first identifier of every .Field the template uses.
func fields(n parse.Node) []string {
	var out []string
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			out = append(out, n.Ident[0])
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		}
	}
	walk(n)
	return out
}
