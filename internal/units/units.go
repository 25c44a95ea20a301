// Package units reads the resource flags a student types (--memory 80M,
// --cpus 0.5, --pids 64) and prints sizes back in the same notation.
//
// Sizes use the suffixes the walkthrough's `cgset -r memory.limit_in_bytes=80M`
// uses, which are the kernel's own (memparse): K, M and G are powers of 1024.
package units

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
)

// Binary multiples, as the kernel reads "80M" in a cgroup file.
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
)

var suffixes = map[string]int64{"": 1, "K": KiB, "M": MiB, "G": GiB}

// ParseSize reads a memory size: a whole number of bytes, optionally followed
// by K, M or G (either case, an optional trailing B: 80M, 80m, 80MB).
func ParseSize(s string) (int64, error) {
	num := strings.TrimRight(s, "KkMmGgBb")
	suffix := strings.ToUpper(s[len(num):])
	suffix = strings.TrimSuffix(suffix, "B")
	mult, ok := suffixes[suffix]
	if s == "" || num == "" || !ok {
		return 0, sizeError(s)
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%q is too large for a memory size", s)
		}
		return 0, sizeError(s)
	}
	if v <= 0 {
		return 0, fmt.Errorf("%q: a memory limit must be more than 0 bytes", s)
	}
	if v > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large for a memory size", s)
	}
	return v * mult, nil
}

func sizeError(s string) error {
	return fmt.Errorf("%q is not a size: write a whole number with K, M or G after it, as in 80M", s)
}

// FormatSize prints bytes the way ParseSize reads them: 83886080 -> "80M",
// and with one decimal where that is closer: 1572864 -> "1.5M".
func FormatSize(b int64) string {
	switch {
	case b < 0:
		return "n/a"
	case b >= GiB:
		return trim(float64(b)/float64(GiB)) + "G"
	case b >= MiB:
		return trim(float64(b)/float64(MiB)) + "M"
	case b >= KiB:
		return trim(float64(b)/float64(KiB)) + "K"
	}
	return strconv.FormatInt(b, 10) + "B"
}

func trim(f float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0")
}

// MinCPUs is the smallest share the kernel's CFS bandwidth control takes: a
// quota of 1ms in every 100ms period.
const MinCPUs = 0.01

// ParseCPUs reads a CPU share: 0.5 is half of one core, 2 is two cores. It
// must be at least 0.01 and at most the number of CPUs this machine has.
func ParseCPUs(s string) (float64, error) {
	return parseCPUs(s, runtime.NumCPU())
}

func parseCPUs(s string, ncpu int) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number of CPUs: write a decimal such as 0.5 (half of one core) or 2", s)
	}
	if v < MinCPUs {
		return 0, fmt.Errorf("%q: the CPU share must be at least %.2f (the kernel's smallest quota: 1ms in every 100ms)", s, MinCPUs)
	}
	if v > float64(ncpu) {
		return 0, fmt.Errorf("%q: this machine has only %d CPU(s); give at most %d", s, ncpu, ncpu)
	}
	return v, nil
}

// MaxPids is the most a pids.max can hold: the kernel's PID_MAX_LIMIT on a
// 64-bit machine (4M), above which it refuses the write with EINVAL.
const MaxPids = 4 << 20

// ParsePids reads the most processes a container may have: a whole number,
// at least 1 (the container's own first process counts) and at most
// MaxPids.
func ParsePids(s string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number of processes: write a whole number such as 64", s)
	}
	if v < 1 {
		return 0, fmt.Errorf("%q: a container needs at least 1 process (its first one counts)", s)
	}
	if v > MaxPids {
		return 0, fmt.Errorf("%q: the kernel has at most %d process ids (PID_MAX_LIMIT), so pids.max takes no more; give at most that", s, MaxPids)
	}
	return v, nil
}
