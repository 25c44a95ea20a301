package cgroups

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
)

// kernelFiller stands for the kernel in a fake tree: a directory made
// in it (its mkdirat narrated, "= 0") gets the files named, empty, as a
// real cgroup directory comes with its files. Writes to cgroup files do not
// create them (O_WRONLY, no O_CREAT), so without these a fake group could
// take no limit.
type kernelFiller struct {
	t     *testing.T
	files map[string]string // name -> content
	out   bytes.Buffer
}

var mkdirLine = regexp.MustCompile(`(?m)^mkdirat\(AT_FDCWD, ("(?:[^"\\]|\\.)*"), 0755\) = 0$`)

func (k *kernelFiller) Write(p []byte) (int, error) {
	k.out.Write(p)
	for _, m := range mkdirLine.FindAllSubmatch(p, -1) {
		dir, err := strconv.Unquote(string(m[1]))
		if err != nil {
			k.t.Fatalf("narrated mkdirat path %s: %v", m[1], err)
		}
		for name, content := range k.files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				k.t.Fatal(err)
			}
		}
	}
	return len(p), nil
}

// New writes each limit into its file, in the unit the kernel reads it in:
// bytes for memory, a count for pids, microseconds of quota in a period of
// 100000 for the CPU share (0.29 is 29000, rounded: 0.29*100000 is
// 28999.999… in floating point), and no swap (memsw = the memory limit on
// v1, where the kernel accounts swap; swap.max 0 on v2). Without this test
// a limit written off by one, in the wrong unit, or swap left unlimited
// (a container over its memory limit swapping instead of being stopped)
// would pass every test that runs without root.
func TestLimitsWritten(t *testing.T) {
	limits := Limits{Memory: 80 << 20, Pids: 64, CPUs: 0.29}
	v1Files := map[string]string{v1MemoryLimit: "", v1CPUPeriod: "", v1CPUQuota: "", pidsMaxFile: ""}
	v2Files := map[string]string{v2Controllers: "memory pids cpu\n", v2SubtreeControl: "", v2MemoryMax: "", v2CPUMax: "", pidsMaxFile: ""}
	for _, tc := range []struct {
		name   string
		mounts map[string]int64
		files  map[string]string // in the tree's root
		made   map[string]string // in each directory made
		want   map[string]string // controller/file -> what was written
		absent []string          // controller/file: not there, so not written
	}{
		{name: "v1 with swap accounting", mounts: v1Tree, made: with(v1Files, map[string]string{v1MemswLimit: ""}),
			want: map[string]string{"memory/" + v1MemoryLimit: "83886080", "memory/" + v1MemswLimit: "83886080",
				"pids/" + pidsMaxFile: "64", "cpu/" + v1CPUQuota: "29000", "cpu/" + v1CPUPeriod: "100000"}},
		{name: "v1 without swap accounting", mounts: v1Tree, made: v1Files,
			want: map[string]string{"memory/" + v1MemoryLimit: "83886080", "pids/" + pidsMaxFile: "64",
				"cpu/" + v1CPUQuota: "29000", "cpu/" + v1CPUPeriod: "100000"},
			absent: []string{"memory/" + v1MemswLimit}},
		{name: "v2 with swap accounting", mounts: v2Tree, files: map[string]string{v2Controllers: "cpu memory pids\n", v2SubtreeControl: ""},
			made: with(v2Files, map[string]string{v2MemorySwapMax: ""}),
			want: map[string]string{"memory/" + v2MemoryMax: "83886080", "memory/" + v2MemorySwapMax: "0",
				"pids/" + pidsMaxFile: "64", "cpu/" + v2CPUMax: "29000 100000"}},
		{name: "v2 without swap accounting", mounts: v2Tree, files: map[string]string{v2Controllers: "cpu memory pids\n", v2SubtreeControl: ""},
			made:   v2Files,
			want:   map[string]string{"memory/" + v2MemoryMax: "83886080", "pids/" + pidsMaxFile: "64", "cpu/" + v2CPUMax: "29000 100000"},
			absent: []string{"memory/" + v2MemorySwapMax}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeHost(t, tc.mounts, tc.files)
			k := &kernelFiller{t: t, files: tc.made}
			c, err := h.create(sys.New(k, sys.Options{}), "abc123", limits, v1Controllers)
			if err != nil {
				t.Fatalf("create() = %v\n%s", err, k.out.String())
			}
			for key, want := range tc.want {
				ctrl, file := filepath.Split(key)
				dir, ok := c.Dir(filepath.Clean(ctrl))
				if !ok {
					t.Fatalf("Dir(%q): none", ctrl)
				}
				if b, err := os.ReadFile(filepath.Join(dir, file)); err != nil || string(b) != want {
					t.Errorf("%s = %q, %v; want %q", filepath.Join(dir, file), b, err, want)
				}
			}
			for _, key := range tc.absent {
				ctrl, file := filepath.Split(key)
				dir, _ := c.Dir(filepath.Clean(ctrl))
				if _, err := os.Stat(filepath.Join(dir, file)); err == nil {
					t.Errorf("%s was written, though the kernel had no such file", filepath.Join(dir, file))
				}
			}
		})
	}
}
