package opts

import "fmt"

// FlagError tells which flag and which value failed to parse. Err is the
// cause, worded as Docker words it.
type FlagError struct {
	Flag  string // as the CLI shows it, e.g. "-v, --volume"
	Value string
	Err   error
}

func (e *FlagError) Error() string {
	return fmt.Sprintf("invalid argument %q for %q flag: %v", e.Value, e.Flag, e.Err)
}

func (e *FlagError) Unwrap() error { return e.Err }

func flagErr(flag, value string, err error) error {
	return &FlagError{Flag: flag, Value: value, Err: err}
}

// Flag names as docker's CLI prints them in errors.
const (
	flagVolume      = "-v, --volume"
	flagMount       = "--mount"
	flagTmpfs       = "--tmpfs"
	flagUlimit      = "--ulimit"
	flagDevice      = "--device"
	flagRestart     = "--restart"
	flagMemory      = "-m, --memory"
	flagMemorySwap  = "--memory-swap"
	flagMemoryRes   = "--memory-reservation"
	flagCPUs        = "--cpus"
	flagShmSize     = "--shm-size"
	flagEnv         = "-e, --env"
	flagEnvFile     = "--env-file"
	flagAddHost     = "--add-host"
	flagLabel       = "-l, --label"
	flagLabelFile   = "--label-file"
	flagSecurityOpt = "--security-opt"
	flagPublish     = "-p, --publish"
	flagExpose      = "--expose"
)
