package format

import (
	"strings"
	"testing"
)

type row struct {
	ID, Repository string
	Size           int64
}

var rows = []any{row{"abc", "busybox", 10}, row{"defabcdef", "library/debian", 2000}}

func render(t *testing.T, format, def string) string {
	t.Helper()
	f, err := Parse(format, def)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := f.Execute(&b, rows, map[string]string{"ID": "IMAGE ID"}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestFormats(t *testing.T) {
	def := "table {{.Repository}}\t{{.ID}}"
	for _, tc := range []struct{ format, want string }{
		{"", "REPOSITORY       IMAGE ID\nbusybox          abc\nlibrary/debian   defabcdef\n"},
		{"table", "REPOSITORY       IMAGE ID\nbusybox          abc\nlibrary/debian   defabcdef\n"},
		{`table {{.ID}}\t{{.Size}}`, "IMAGE ID    SIZE\nabc         10\ndefabcdef   2000\n"},
		{"{{.ID}}:{{.Size}}", "abc:10\ndefabcdef:2000\n"},
		{"{{json .}}", `{"ID":"abc","Repository":"busybox","Size":10}` + "\n" + `{"ID":"defabcdef","Repository":"library/debian","Size":2000}` + "\n"},
		{"json", `{"ID":"abc","Repository":"busybox","Size":10}` + "\n" + `{"ID":"defabcdef","Repository":"library/debian","Size":2000}` + "\n"},
		{"{{upper .Repository}} {{truncate .ID 3}} {{json .ID}}", "BUSYBOX abc \"abc\"\nLIBRARY/DEBIAN def \"defabcdef\"\n"},
		{`{{join (split .Repository "/") ","}}`, "busybox\nlibrary,debian\n"},
	} {
		if got := render(t, tc.format, def); got != tc.want {
			t.Errorf("format %q:\ngot:\n%s\nwant:\n%s", tc.format, got, tc.want)
		}
	}
}

func TestBadFormat(t *testing.T) {
	if _, err := Parse("{{.ID", ""); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Fatalf("unclosed action: got %v, want a --format error", err)
	}
	f, err := Parse("{{.Nope}}", "")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := f.Execute(&b, rows, nil); err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Fatalf("unknown field: got %v, want an error naming it", err)
	}
}
