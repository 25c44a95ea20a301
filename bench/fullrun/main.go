// Command fullrun is the speed benchmark of step 6: it times
//
//	workshop full run --quiet --memory 64M --pids 64 -- /bin/true
//
// (all seven namespaces, a memory and pids limit, an overlay root,
// pivot_root, /proc) against
//
//	unshare --mount --uts --ipc --net --pid --fork chroot ROOT /bin/true
//
// on the same root (the base image's), and against `runc run`, `crun run`
// and bwrap on that root where they are installed, interleaved in one run
// so that all see the same machine; against the least that work can cost:
// bench/leastgo (the same work in Go with a re-executed init, and nothing
// else), bench/leastfork (the same in Go with no second Go program: a
// vfork-style child making raw system calls; amd64) and bench/leastc (the
// same in C, no re-exec; where the host has a C compiler); and, for the
// floor, /bin/true and an empty static Go program
// alone. It prints the median, the 10th and 90th percentiles, the ratio of
// the medians, and the peak RSS of the workshop processes.
//
// Usage (as root): go run ./bench/fullrun -workshop bin/workshop -n 200
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("workshop", "bin/workshop", "the workshop binary")
	n := flag.Int("n", 200, "runs of each command")
	withRunc := flag.Bool("runc", true, "time runc run and crun run too, where they are installed")
	withFloor := flag.Bool("floor", true, "time /bin/true and an empty static Go program alone too: the floor of a run")
	withLeast := flag.Bool("least", true, "time bench/leastgo, bench/leastfork and bench/leastc too: the benchmark's work and nothing else, in Go and in C")
	flag.Parse()
	if err := run(*bin, *n, *withRunc, *withFloor, *withLeast); err != nil {
		fmt.Fprintln(os.Stderr, "fullrun:", err)
		os.Exit(1)
	}
}

// sample is one timed run.
type sample struct {
	d      time.Duration
	maxRSS int64 // KiB, of the process and the largest of its descendants
}

type contender struct {
	name    string
	argv    func(i int) []string
	samples []sample
}

func run(bin string, n int, withRunc, withFloor, withLeast bool) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("run it as root: it makes namespaces, cgroups and mounts")
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	state, err := os.MkdirTemp("", "workshop-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)

	// The first run makes the base image; its unpacked root is the root
	// every contender runs from.
	if out, err := exec.Command(bin, "--state-dir", state, "--quiet", "full", "run", "--", "/bin/true").CombinedOutput(); err != nil {
		return fmt.Errorf("first full run: %v\n%s", err, out)
	}
	// Whatever was written just before (the binary scripts/bench built;
	// the image store syncs the image it made) the kernel writes back over
	// the next half minute: meanwhile ext4's journal commits wait for that
	// writeback, and so does every run's mkdir, rename and unlink under the
	// state dir (5 to 8 ms of a run, in long stretches). Write it all now:
	// the benchmark measures runs, not a writeback.
	syscall.Sync()
	roots, _ := filepath.Glob(filepath.Join(state, "images", "*", "rootfs"))
	if len(roots) != 1 {
		return fmt.Errorf("expected one unpacked image in %s, found %d", state, len(roots))
	}
	root := roots[0]

	contenders := []*contender{
		{name: "workshop full run", argv: func(int) []string {
			return []string{bin, "--state-dir", state, "--quiet", "full", "run", "--memory", "64M", "--pids", "64", "--", "/bin/true"}
		}},
		{name: "unshare+chroot", argv: func(int) []string {
			return []string{"unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--fork", "chroot", root, "/bin/true"}
		}},
	}
	defer removeRuncCgroups()
	// The OCI runtimes the issue measured (runc, crun), on a bundle of the
	// same root with the same limits, each with its own state and cgroup.
	for _, rt := range []string{"runc", "crun"} {
		if !withRunc {
			break
		}
		path, err := exec.LookPath(rt)
		if err != nil {
			fmt.Printf("%s is not installed: it is left out (apt-get install %s)\n", rt, rt)
			continue
		}
		bundle, err := ociBundle(state, root, rt)
		if err != nil {
			return err
		}
		c := &contender{name: rt + " run", argv: func(i int) []string {
			return []string{path, "--root", filepath.Join(state, rt+"-state"), "run", "--bundle", bundle, fmt.Sprintf("bench-%d", i)}
		}}
		// A runtime that cannot run here (crun refuses hybrid cgroups)
		// is left out, with its reason, rather than failing the benchmark.
		if _, err := timeOne(c.argv(-1)); err != nil {
			fmt.Printf("%s is left out: it cannot run here: %s\n", c.name, firstLine(err.Error()))
			continue
		}
		contenders = append(contenders, c)
	}
	// bubblewrap, which the issue measured too: the same namespaces but
	// no cgroup and no overlay, the root bind-mounted, /proc and /dev.
	if bwrap, err := exec.LookPath("bwrap"); err == nil {
		contenders = append(contenders, &contender{name: "bwrap", argv: func(int) []string {
			return []string{bwrap, "--unshare-all", "--bind", root, "/", "--proc", "/proc", "--dev", "/dev", "/bin/true"}
		}})
	} else {
		fmt.Println("bwrap is not installed: it is left out (apt-get install bubblewrap)")
	}

	if withLeast {
		least, err := leastContenders(state, root)
		if err != nil {
			return err
		}
		contenders = append(contenders, least...)
	}
	defer removeLeastCgroups()

	// The floor: a run of workshop is at least three program starts, two of
	// them Go programs (workshop, and its init re-executed in the new
	// namespaces) and then the command. Timed alone, the same way.
	var floor []*contender
	if withFloor {
		empty, err := emptyGo(state)
		if err != nil {
			return err
		}
		floor = []*contender{
			{name: "/bin/true alone", argv: func(int) []string { return []string{"/bin/true"} }},
			{name: "empty Go program", argv: func(int) []string { return []string{empty} }},
		}
		contenders = append(contenders, floor...)
	}

	for i := 0; i < n; i++ {
		for _, c := range contenders {
			s, err := timeOne(c.argv(i))
			if err != nil {
				return fmt.Errorf("%s: %v", c.name, err)
			}
			c.samples = append(c.samples, s)
		}
	}

	fmt.Printf("%d runs each, interleaved, on %s\n\n", n, root)
	fmt.Printf("%-20s %10s %10s %10s %12s %10s\n", "command", "p10", "median", "p90", "vs unshare", "max RSS")
	base := median(contenders[1].samples)
	for _, c := range contenders {
		m := median(c.samples)
		fmt.Printf("%-20s %10s %10s %10s %11.2fx %8.1fMB\n", c.name, pct(c.samples, 10), fmtD(m), pct(c.samples, 90),
			float64(m)/float64(base), float64(maxRSS(c.samples))/1024)
	}
	if floor != nil {
		f := 2*median(floor[1].samples) + median(floor[0].samples)
		fmt.Printf("\nfloor of a full run (2 x empty Go program + /bin/true, each started and waited for alone): %s = %.2fx unshare+chroot\n",
			fmtD(f), float64(f)/float64(base))
	}
	// VmHWM, not getrusage: the benchmark's own ru_maxrss counts the go
	// command that started it, for the same reason.
	hwm := vmHWM()
	fmt.Println("\nmax RSS: the largest resident set of the process or any one of its descendants (wait4's ru_maxrss);")
	fmt.Println("for workshop that is the larger of the workshop process and the container's init before its exec.")
	fmt.Printf("It is an upper bound, never below this benchmark's own peak (VmHWM %.1fMB): Go starts a child with vfork,\n", float64(hwm)/1024)
	fmt.Println("and the kernel counts the mm the child ran on before its execve, the benchmark's, as the child's.")
	return nil
}

// vmHWM is this process's peak resident set in KiB, from /proc/self/status.
func vmHWM() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

// emptyGo builds a static Go program whose main does nothing, as workshop
// is built (CGO_ENABLED=0), and returns its path.
func emptyGo(state string) (string, error) {
	dir := filepath.Join(state, "empty-go")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files := map[string]string{"go.mod": "module empty\n\ngo 1.22\n", "main.go": "package main\n\nfunc main() {}\n"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	out := filepath.Join(dir, "empty")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the empty Go program: %v\n%s", err, b)
	}
	return out, nil
}

// leastContenders builds bench/leastgo, bench/leastfork and bench/leastc and
// returns them as contenders: the benchmark's work (seven namespaces, memory
// and pids limits, overlay, pivot_root, /proc, /dev) and nothing else, in Go
// with a re-executed init as workshop's design has it, in Go with no second
// Go program (a vfork-style child that makes raw system calls), and in C. They
// use cgroup v1's memory and pids hierarchies, so they are left out where
// those are not mounted; leastc is left out where there is no C compiler.
func leastContenders(state, root string) ([]*contender, error) {
	for _, h := range []string{"memory", "pids"} {
		if !exists(filepath.Join("/sys/fs/cgroup", h, "tasks")) {
			fmt.Printf("no cgroup v1 %s hierarchy: leastgo, leastfork and leastc (v1 only) are left out\n", h)
			return nil, nil
		}
	}
	src, err := benchDir()
	if err != nil {
		return nil, err
	}
	layer := func(name string, i int) string { return filepath.Join(state, fmt.Sprintf("%s-layer-%d", name, i)) }
	var cs []*contender
	progs := []struct{ prog, name string }{{"leastgo", "least work, Go"}}
	if runtime.GOARCH == "amd64" {
		progs = append(progs, struct{ prog, name string }{"leastfork", "least work, Go, vfork"})
	} else {
		fmt.Println("leastfork is amd64 only (its clone is assembly): it is left out")
	}
	for _, g := range progs {
		bin := filepath.Join(state, g.prog)
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = filepath.Join(src, g.prog)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %v\n%s", g.prog, err, b)
		}
		prog := g.prog
		cs = append(cs, &contender{name: g.name, argv: func(i int) []string {
			return []string{bin, root, layer(prog, i), "/bin/true"}
		}})
	}

	cc, err := exec.LookPath("cc")
	if err != nil {
		fmt.Println("no C compiler (cc): leastc is left out")
		return cs, nil
	}
	leastc := filepath.Join(state, "leastc")
	csrc := filepath.Join(src, "leastc", "leastc.c")
	// Static where the host's libc allows it, as workshop and leastgo are.
	if b, err := exec.Command(cc, "-O2", "-static", "-o", leastc, csrc).CombinedOutput(); err != nil {
		if b2, err2 := exec.Command(cc, "-O2", "-o", leastc, csrc).CombinedOutput(); err2 != nil {
			return nil, fmt.Errorf("build leastc: %v\n%s%s", err2, b, b2)
		}
		fmt.Println("leastc is linked dynamically: no static libc here")
	}
	return append(cs, &contender{name: "least work, C", argv: func(i int) []string {
		return []string{leastc, root, layer("leastc", i), "/bin/true"}
	}}), nil
}

// benchDir is the directory of this benchmark's sources (bench/), found
// from the module root the go command reports.
func benchDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return "", fmt.Errorf("find the module root (go env GOMOD): run the benchmark from the repository")
	}
	return filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "bench"), nil
}

// removeLeastCgroups removes the groups a failed leastgo, leastfork or
// leastc run left (each removes its own when it ends normally).
func removeLeastCgroups() {
	for _, pattern := range []string{"leastgo-*", "leastfork-*", "leastc-*"} {
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", pattern))
		for _, d := range dirs {
			os.Remove(d)
		}
	}
}

// ociBundle writes, for the OCI runtime rt, a bundle whose config.json runs
// /bin/true on root, from `runc spec` (crun accepts the same), with an
// absolute cgroupsPath so the runtime's cgroup is not made under the
// benchmark's own.
func ociBundle(state, root, rt string) (string, error) {
	bundle := filepath.Join(state, rt+"-bundle")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("runc", "spec")
	cmd.Dir = bundle
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("runc spec: %v\n%s", err, out)
	}
	p := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		return "", err
	}
	cfg["root"] = map[string]any{"path": root, "readonly": true}
	proc := cfg["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"/bin/true"}
	linux := cfg["linux"].(map[string]any)
	linux["cgroupsPath"] = "/" + runcCgroup + "/" + rt
	linux["resources"] = map[string]any{
		"memory": map[string]any{"limit": 64 << 20},
		"pids":   map[string]any{"limit": 64},
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	return bundle, os.WriteFile(p, out, 0o644)
}

// runcCgroup is the parent of the cgroups runc and crun make for their runs
// (from the absolute cgroupsPath of ociBundle); each removes its own group
// after each run, the parent is the benchmark's to remove.
const runcCgroup = "workshop-bench"

// removeRuncCgroups removes what runc's and crun's runs left of runcCgroup, in every
// hierarchy: empty directories only (rmdir), deepest first.
func removeRuncCgroups() {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", runcCgroup))
	if d := filepath.Join("/sys/fs/cgroup", runcCgroup); exists(d) {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		subs, _ := filepath.Glob(filepath.Join(d, "*"))
		for _, sub := range subs {
			if fi, err := os.Stat(sub); err == nil && fi.IsDir() {
				os.Remove(sub)
			}
		}
		os.Remove(d)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func timeOne(argv []string) (sample, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%v\n%s", err, out)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return sample{d: d, maxRSS: rss}, nil
}

func sorted(s []sample) []time.Duration {
	ds := make([]time.Duration, len(s))
	for i, x := range s {
		ds[i] = x.d
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds
}

func median(s []sample) time.Duration { return sorted(s)[len(s)/2] }

func pct(s []sample, p int) string {
	ds := sorted(s)
	return fmtD(ds[(len(ds)-1)*p/100])
}

func maxRSS(s []sample) int64 {
	var m int64
	for _, x := range s {
		if x.maxRSS > m {
			m = x.maxRSS
		}
	}
	return m
}

// firstLine is the first non-empty line of s, without the exit status
// line timeOne puts first.
func firstLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines[min(1, len(lines)-1):] {
		if strings.TrimSpace(l) != "" {
			return strings.TrimSpace(l)
		}
	}
	return lines[0]
}

func fmtD(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
