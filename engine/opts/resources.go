package opts

import (
	"errors"
	"fmt"
	"math/big"

	units "github.com/docker/go-units"
)

// ParseMemory parses a -m/--memory value ("512m", "1g", "1024"; binary
// units) into bytes.
func ParseMemory(s string) (int64, error) { return parseBytes(flagMemory, s) }

// ParseMemoryReservation parses --memory-reservation.
func ParseMemoryReservation(s string) (int64, error) { return parseBytes(flagMemoryRes, s) }

// ParseMemorySwap parses --memory-swap: bytes, or -1 for unlimited swap.
func ParseMemorySwap(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	return parseBytes(flagMemorySwap, s)
}

// ParseShmSize parses --shm-size into bytes; it must not be negative.
func ParseShmSize(s string) (int64, error) {
	n, err := parseBytes(flagShmSize, s)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, flagErr(flagShmSize, s, errors.New("SHM size can not be less than 0"))
	}
	return n, nil
}

func parseBytes(flag, s string) (int64, error) {
	n, err := units.RAMInBytes(s)
	if err != nil {
		return 0, flagErr(flag, s, err)
	}
	return n, nil
}

// ParseCPUs parses --cpus ("1.5") into nano CPUs (1500000000), exactly:
// a value finer than 1e-9 is an error, as in Docker.
func ParseCPUs(s string) (int64, error) {
	cpu, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, flagErr(flagCPUs, s, fmt.Errorf("failed to parse %v as a rational number", s))
	}
	nano := cpu.Mul(cpu, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return 0, flagErr(flagCPUs, s, errors.New("value is too precise"))
	}
	if nano.Sign() < 0 || !nano.Num().IsInt64() {
		return 0, flagErr(flagCPUs, s, errors.New("range of CPUs is from 0.01 to the number of CPUs available"))
	}
	return nano.Num().Int64(), nil
}
