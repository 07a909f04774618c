package opts

import (
	"fmt"
	"strings"
)

// ParseLabels turns -l values ("key=value", or "key" for an empty value)
// into a map; a later key overrides an earlier one.
func ParseLabels(labels []string) (map[string]string, error) {
	out := make(map[string]string, len(labels))
	for _, l := range labels {
		if err := validateLabel(l); err != nil {
			return nil, flagErr(flagLabel, l, err)
		}
		k, v, _ := strings.Cut(l, "=")
		out[strings.TrimLeft(k, " \t")] = v
	}
	return out, nil
}

// ParseLabelFiles reads --label-file files (env-file syntax; a bare key
// is dropped, as in Docker) and then the -l values, later ones winning.
func ParseLabelFiles(files, labels []string) (map[string]string, error) {
	var all []string
	for _, f := range files {
		ls, err := parseKVFile(f, nil)
		if err != nil {
			return nil, flagErr(flagLabelFile, f, err)
		}
		for _, l := range ls {
			if err := validateLabel(l); err != nil {
				return nil, flagErr(flagLabelFile, f, err)
			}
		}
		all = append(all, ls...)
	}
	fromFlags, err := ParseLabels(labels)
	if err != nil {
		return nil, err
	}
	out, _ := ParseLabels(all)
	for k, v := range fromFlags {
		out[k] = v
	}
	return out, nil
}

func validateLabel(value string) error {
	key, _, _ := strings.Cut(value, "=")
	key = strings.TrimLeft(key, " \t")
	if key == "" {
		return fmt.Errorf("invalid label '%s': empty name", value)
	}
	if strings.ContainsAny(key, " \t") {
		return fmt.Errorf("label '%s' contains whitespaces", key)
	}
	return nil
}
