package opts

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.env")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseEnvFile(t *testing.T) {
	t.Setenv("BERTH_TEST_SET", "from-env")
	t.Setenv("BERTH_TEST_EMPTY", "")
	os.Unsetenv("BERTH_TEST_UNSET")
	p := writeFile(t, "\xEF\xBB\xBFFIRST=1\n"+
		"# comment\n"+
		"\n"+
		"   \t\n"+
		"  INDENTED=two  \n"+
		"QUOTED=\"kept quotes\"\n"+
		"EMPTY=\n"+
		"EQ=a=b\n"+
		"BERTH_TEST_SET\n"+
		"BERTH_TEST_EMPTY\n"+
		"BERTH_TEST_UNSET\n"+
		"  # indented comment\n"+
		"UNICODE=héllo\n")
	got, err := ParseEnvFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"FIRST=1", "INDENTED=two  ", `QUOTED="kept quotes"`, "EMPTY=", "EQ=a=b",
		"BERTH_TEST_SET=from-env", "BERTH_TEST_EMPTY=", "UNICODE=héllo"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseEnvFile =\n %q\nwant\n %q", got, want)
	}
}

func TestParseEnvFileErrors(t *testing.T) {
	tests := []struct{ content, want string }{
		{"A=1\nB=\xff\xfe\n", "invalid utf8 bytes at line 2: [66 61 255 254]"},
		{"A=1\n=novar\n", "no variable name on line '=novar'"},
		{"MY VAR=1\n", "variable 'MY VAR' contains whitespaces"},
		{"MYVAR =1\n", "variable 'MYVAR ' contains whitespaces"},
	}
	for _, tc := range tests {
		p := writeFile(t, tc.content)
		_, err := ParseEnvFile(p)
		if err == nil {
			t.Errorf("%q: no error", tc.content)
			continue
		}
		checkFlagErr(t, err, flagEnvFile, p, "invalid env file ("+p+"): "+tc.want)
	}
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := ParseEnvFile(missing)
	checkFlagErr(t, err, flagEnvFile, missing, "no such file or directory")
}

func TestExpandEnv(t *testing.T) {
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"HOME": "/root", "EMPTY": ""}[k]
		return v, ok
	}
	got := ExpandEnv([]string{"A=1", "HOME", "EMPTY", "MISSING", "B="}, lookup)
	want := []string{"A=1", "HOME=/root", "EMPTY=", "MISSING", "B="}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ExpandEnv = %q, want %q", got, want)
	}
	if _, err := ParseEnv([]string{"A=1", "=x"}, lookup); err == nil {
		t.Error("ParseEnv accepted an empty name")
	} else {
		checkFlagErr(t, err, flagEnv, "=x", "invalid environment variable: =x")
	}
	p := writeFile(t, "A=file\nHOME\n")
	all, err := ReadEnv([]string{p}, []string{"A=flag"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A=file", "HOME=/root", "A=flag"}; !reflect.DeepEqual(all, want) {
		t.Errorf("ReadEnv = %q, want %q", all, want)
	}
}

func TestParseLabels(t *testing.T) {
	got, err := ParseLabels([]string{"a=1", "b", "c=x=y", "a=2", "  d=sp ace"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "2", "b": "", "c": "x=y", "d": "sp ace"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseLabels = %v, want %v", got, want)
	}
	for in, msg := range map[string]string{"=v": "invalid label '=v': empty name", "my key=v": "label 'my key' contains whitespaces"} {
		_, err := ParseLabels([]string{in})
		checkFlagErr(t, err, flagLabel, in, msg)
	}
	p := writeFile(t, "# labels\nfile=1\nboth=file\nbare\n")
	got, err = ParseLabelFiles([]string{p}, []string{"both=flag"})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"file": "1", "both": "flag"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseLabelFiles = %v, want %v", got, want)
	}
	bad := writeFile(t, "ok=1\nx\xff=1\n")
	_, err = ParseLabelFiles([]string{bad}, nil)
	checkFlagErr(t, err, flagLabelFile, bad, "invalid utf8 bytes at line 2")
}
