package opts

import (
	"errors"
	"os"
	"strings"
)

// ParseEnvFile reads an --env-file with Docker's rules (see parseKVFile):
// a bare KEY takes its value from this process's environment, and is
// dropped when unset. Errors name the file (and the line for bad UTF-8).
func ParseEnvFile(path string) ([]string, error) {
	out, err := parseKVFile(path, os.LookupEnv)
	if err != nil {
		return nil, flagErr(flagEnvFile, path, err)
	}
	return out, nil
}

// ExpandEnv resolves bare "-e KEY" entries: KEY=value when lookup finds
// it, else the bare KEY is kept, which (as in Docker) means "unset KEY" in
// the container even when the image sets it. Entries with '=' pass as is.
func ExpandEnv(list []string, lookup func(string) (string, bool)) []string {
	out := make([]string, 0, len(list))
	for _, e := range list {
		if !strings.Contains(e, "=") && lookup != nil {
			if v, ok := lookup(e); ok {
				e = e + "=" + v
			}
		}
		out = append(out, e)
	}
	return out
}

// ParseEnv validates -e values (a name is required) and expands bare
// names like ExpandEnv.
func ParseEnv(list []string, lookup func(string) (string, bool)) ([]string, error) {
	for _, e := range list {
		if k, _, _ := strings.Cut(e, "="); k == "" {
			return nil, flagErr(flagEnv, e, errors.New("invalid environment variable: "+e))
		}
	}
	return ExpandEnv(list, lookup), nil
}

// ReadEnv is the docker run order: every --env-file in turn, then the -e
// values (which override file entries of the same name when applied).
func ReadEnv(files, env []string, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	for _, f := range files {
		vars, err := parseKVFile(f, lookup)
		if err != nil {
			return nil, flagErr(flagEnvFile, f, err)
		}
		out = append(out, vars...)
	}
	vars, err := ParseEnv(env, lookup)
	if err != nil {
		return nil, err
	}
	return append(out, vars...), nil
}
