package opts

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// parseKVFile reads Docker's env/label file format: UTF-8 only, a BOM on
// line 1 dropped, leading whitespace trimmed, '#' lines and blank lines
// skipped, "KEY=VALUE" kept as is (trailing whitespace and quotes are part
// of the value), and a bare "KEY" replaced by KEY=value from lookup when
// found, dropped otherwise (or when lookup is nil).
func parseKVFile(filename string, lookup func(string) (string, bool)) ([]string, error) {
	f, err := os.Open(filename)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out, err := parseKV(f, lookup)
	if err != nil {
		return nil, fmt.Errorf("invalid env file (%s): %v", filename, err)
	}
	return out, nil
}

func parseKV(r io.Reader, lookup func(string) (string, bool)) ([]string, error) {
	lines := []string{}
	scanner := bufio.NewScanner(r)
	bom := []byte{0xEF, 0xBB, 0xBF}
	for n := 1; scanner.Scan(); n++ {
		b := scanner.Bytes()
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("invalid utf8 bytes at line %d: %v", n, b)
		}
		if n == 1 {
			b = bytes.TrimPrefix(b, bom)
		}
		line := strings.TrimLeftFunc(string(b), unicode.IsSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		key, _, hasValue := strings.Cut(line, "=")
		if key == "" {
			return nil, fmt.Errorf("no variable name on line '%s'", line)
		}
		if strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("variable '%s' contains whitespaces", key)
		}
		if hasValue {
			lines = append(lines, line)
			continue
		}
		if lookup != nil {
			if v, ok := lookup(line); ok {
				lines = append(lines, key+"="+v)
			}
		}
	}
	return lines, scanner.Err()
}
