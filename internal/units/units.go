// Package units reads the resource flags a student types (--memory 80M,
// --cpus 0.5, --pids 64) and prints sizes back in the same notation.
//
// Sizes use the suffixes the walkthrough's `cgset -r memory.limit_in_bytes=80M`
// uses, which are the kernel's own (memparse): K, M, G and T are powers of
// 1024.
package units

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Binary multiples, as the kernel reads "80M" in a cgroup file.
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
	TiB int64 = 1 << 40
)

var suffixes = map[string]int64{"": 1, "K": KiB, "M": MiB, "G": GiB, "T": TiB}

// ParseSize reads a memory size: a whole number of bytes, optionally followed
// by K, M, G or T (either case, an optional trailing B: 80M, 80m, 80MB). Spaces
// around it are allowed, as in every flag of this package (a quoted " 80M").
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num := strings.TrimRight(s, "KkMmGgTtBb")
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
	return fmt.Errorf("%q is not a size: write a whole number with K, M, G or T after it, as in 80M", s)
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

// FormatFlag prints bytes (more than 0, as ParseSize gives them) as a
// --memory flag that gives them exactly, with the largest suffix that
// divides them: 83886080 -> "80M", 1572864 -> "1536K", 100000000 ->
// "100000000". FormatSize's "1.5M" and "95.4M" are near, not what was
// given: a sentence that quotes the flag uses this one.
func FormatFlag(b int64) string {
	for _, u := range []struct {
		size   int64
		suffix string
	}{{TiB, "T"}, {GiB, "G"}, {MiB, "M"}, {KiB, "K"}} {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(b/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(b, 10)
}

func trim(f float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0")
}

// MinCPUs is the smallest share the kernel's CFS bandwidth control takes: a
// quota of 1ms in every 100ms period.
const MinCPUs = 0.01

// ParseCPUs reads a CPU share: 0.5 is half of one core, 2 is two cores. It
// must be at least 0.01 and at most the number of CPUs this machine has, and
// written as a plain decimal: Go's float syntax would also take 1_0 (10) and
// 0x1p-1 (0.5), which a student who typed them did not mean.
func ParseCPUs(s string) (float64, error) {
	return parseCPUs(s, runtime.NumCPU())
}

func parseCPUs(s string, ncpu int) (float64, error) {
	s = strings.TrimSpace(s)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !plainDecimal(strings.TrimPrefix(s, "-")) {
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
	s = strings.TrimSpace(s)
	v, err := strconv.ParseInt(s, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) && strings.HasPrefix(s, "-"):
		v = 0 // a whole number below int64's: too few, said below
	case errors.Is(err, strconv.ErrRange):
		v = MaxPids + 1 // past int64's: too many, said below
	case err != nil:
		return 0, fmt.Errorf("%q is not a number of processes: write a whole number such as 64", s)
	}
	if v < 1 {
		return 0, fmt.Errorf("%q: a number of processes is 1 or more", s)
	}
	if v > MaxPids {
		return 0, fmt.Errorf("%q: the kernel has at most %d process ids (PID_MAX_LIMIT), so pids.max takes no more; give at most that", s, MaxPids)
	}
	return v, nil
}

// ParseTimeout reads a --timeout as Go writes durations (10s, 2m, 1m30s),
// and says what is wrong with one that is not: 0 or less, a number with no
// unit, more than Go's 292 years of nanoseconds, or no duration at all.
func ParseTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	missingUnit := err != nil && strings.Contains(err.Error(), "missing unit")
	tooShort := errors.New("give a time longer than 0, such as 10s (the container is killed when it is up)")
	switch {
	case err == nil && d <= 0:
		return 0, tooShort
	case err == nil:
		return d, nil
	case missingUnit && positiveNumber(s) && overflows(s+"s"):
		return 0, errors.New("give its unit too (s, m or h), and a shorter time: the longest is about 292 years (2562047h)")
	case missingUnit && positiveNumber(s):
		return 0, fmt.Errorf("give its unit too, as in %ss (s, m or h)", s)
	case missingUnit && (strings.HasPrefix(s, "-") || strings.Trim(s, "0.") == ""):
		return 0, tooShort
	case overflows(s):
		return 0, errors.New("too long; the longest is about 292 years (2562047h)")
	}
	return 0, errors.New("give a duration such as 10s, 2m or 1m30s")
}

// overflows reports whether s is a well-formed duration that only
// overflows Go's (292 years of nanoseconds), such as 999999999h.
func overflows(s string) bool {
	if _, err := time.ParseDuration(s); err == nil {
		return false
	}
	digits := strings.TrimRight(s, "hmsuµn")
	if digits == s || !positiveNumber(digits) {
		return false
	}
	_, err := time.ParseDuration("1" + s[len(digits):])
	return err == nil
}

// plainDecimal reports whether s is digits with at most one point among or
// after them (10, 1.5, .5, 2.), and nothing else.
func plainDecimal(s string) bool {
	return s != "" && s != "." && strings.Count(s, ".") <= 1 && strings.Trim(s, "0123456789.") == ""
}

// positiveNumber reports whether s is a number above 0 written with digits
// and at most one point (10, 1.5, .5).
func positiveNumber(s string) bool {
	return plainDecimal(s) && strings.Trim(s, "0.") != ""
}

// Count writes n with the word for its number: "1 call", "3 calls",
// "0 entries".
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
