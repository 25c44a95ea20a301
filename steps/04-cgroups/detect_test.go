package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/sys"
)

const ext4Magic = 0xef53

// fakeHost is a cgroup tree in a temp dir: the directories are real, and
// magic says which filesystem each mount point stands for.
func fakeHost(t *testing.T, mounts map[string]int64, files map[string]string) host {
	t.Helper()
	root := t.TempDir()
	for p := range mounts {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return host{root: root, magic: func(path string) (int64, error) {
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return 0, err
		}
		if m, ok := mounts[rel]; ok {
			return m, nil
		}
		if _, err := os.Stat(path); err != nil {
			return 0, err
		}
		return ext4Magic, nil
	}}
}

// The layouts of real machines.
var (
	v2Tree = map[string]int64{".": cgroup2Magic}
	v1Tree = map[string]int64{
		".": tmpfsMagic, "memory": cgroupMagic, "cpu": cgroupMagic, "cpuacct": cgroupMagic,
		"pids": cgroupMagic, "freezer": cgroupMagic, "blkio": cgroupMagic, "systemd": cgroupMagic,
	}
	hybridTree = with(v1Tree, map[string]int64{"unified": cgroup2Magic})
)

// with is a with b's entries added (b's win): a fake tree's mounts, or the
// files of its directories.
func with[V any](a, b map[string]V) map[string]V {
	m := map[string]V{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mounts map[string]int64
		files  map[string]string
		want   Mode
	}{
		{"v2", v2Tree, map[string]string{"cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc"}, V2},
		{"v1", v1Tree, nil, V1},
		// The CI machine: its unified mount lists a controller, yet the
		// limits are v1's.
		{"hybrid with hugetlb in unified", hybridTree, map[string]string{"unified/cgroup.controllers": "hugetlb\n"}, Hybrid},
		{"hybrid with an empty unified", hybridTree, map[string]string{"unified/cgroup.controllers": ""}, Hybrid},
		{"v1 with a plain directory named unified", with(v1Tree, map[string]int64{"unified": tmpfsMagic}), nil, V1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeHost(t, tc.mounts, tc.files)
			got, err := h.detect()
			if err != nil || got != tc.want {
				t.Errorf("detect() = %v, %v, want %v, nil", got, err, tc.want)
			}
		})
	}
}

func TestDetectRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mounts map[string]int64
		want   string
	}{
		{"not mounted", map[string]int64{".": ext4Magic}, "neither a cgroup2 mount nor a tmpfs"},
		{"empty tmpfs", map[string]int64{".": tmpfsMagic}, "no cgroup v1 controller mounted"},
		// A unified tree that lists no limit controller (only hugetlb, as
		// on this project's CI machine) holds no usable cgroups either.
		{"tmpfs with only unified", map[string]int64{".": tmpfsMagic, "unified": cgroup2Magic}, "no cgroup v1 controller mounted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			if _, ok := tc.mounts["unified"]; ok {
				files["unified/cgroup.controllers"] = "hugetlb\n"
			}
			h := fakeHost(t, tc.mounts, files).resolve()
			_, err := h.detect()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "workshop doctor") {
				t.Fatalf("detect() error = %v, want one saying %q and pointing to workshop doctor", err, tc.want)
			}
			if exit.Status(err) != exit.ToolFailed {
				t.Errorf("detect() exit status = %d, want 125", exit.Status(err))
			}
		})
	}
}

// Co-mounted controllers (Debian's cpu and cpuacct -> cpu,cpuacct) are one
// hierarchy: the group gets one directory there, not two.
func TestCoMountedControllersShareADirectory(t *testing.T) {
	h := fakeHost(t, map[string]int64{".": tmpfsMagic, "cpu,cpuacct": cgroupMagic, "memory": cgroupMagic}, nil)
	for _, link := range []string{"cpu", "cpuacct"} {
		if err := os.Symlink("cpu,cpuacct", filepath.Join(h.root, link)); err != nil {
			t.Fatal(err)
		}
	}
	inner := h.magic
	h.magic = func(p string) (int64, error) {
		if b := filepath.Base(p); b == "cpu" || b == "cpuacct" {
			return cgroupMagic, nil
		}
		return inner(p)
	}
	m := h.v1Mounts()
	want := filepath.Join(h.root, "cpu,cpuacct")
	if m["cpu"] != want || m["cpuacct"] != want {
		t.Errorf("v1Mounts() = %v, want cpu and cpuacct both at %s", m, want)
	}
	if got := h.parents(V1); len(got) != 2 {
		t.Errorf("parents(V1) = %v, want one per hierarchy (2)", got)
	}
}

// A limit the host cannot apply is refused before anything is made.
func TestMissingControllerRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mounts map[string]int64
		files  map[string]string
		limits Limits
		want   string
	}{
		{"v2 without memory", v2Tree, map[string]string{"cgroup.controllers": "cpu pids"}, Limits{Memory: 80 << 20},
			"the memory controller is not available (it is not listed in "},
		{"v2 without pids", v2Tree, map[string]string{"cgroup.controllers": "cpu memory"}, Limits{Pids: 64},
			"the pids controller is not available"},
		{"v1 without cpu", with(v1Tree, map[string]int64{"cpu": tmpfsMagic}), nil, Limits{CPUs: 0.5},
			"the cpu controller is not available (no v1 hierarchy is mounted at "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeHost(t, tc.mounts, tc.files)
			_, err := h.create(sys.Discard(), "abc123", tc.limits, v1Controllers)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "workshop doctor") {
				t.Fatalf("create() error = %v, want one saying %q and pointing to workshop doctor", err, tc.want)
			}
			if exit.Status(err) != exit.ToolFailed {
				t.Errorf("create() exit status = %d, want 125", exit.Status(err))
			}
			if ids, _ := h.list(); len(ids) != 0 {
				t.Errorf("create() left groups behind: %v", ids)
			}
			if _, err := os.Stat(filepath.Join(h.root, Parent)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("create() left %s behind (stat: %v)", Parent, err)
			}
		})
	}
}

// A controller that cannot be switched on (here: a parent whose
// cgroup.subtree_control the "kernel" did not make) is an error naming
// the file, and the parent workshop made is removed again.
func TestControllerNotEnabledUndoes(t *testing.T) {
	h := fakeHost(t, v2Tree, map[string]string{"cgroup.controllers": "memory pids cpu", "cgroup.subtree_control": ""})
	_, err := h.create(sys.Discard(), "abc123", Limits{Memory: 80 << 20}, v1Controllers)
	want := filepath.Join(h.root, Parent, v2SubtreeControl)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "workshop doctor") {
		t.Fatalf("create() error = %v, want one naming %s and pointing to workshop doctor", err, want)
	}
	if b, _ := os.ReadFile(filepath.Join(h.root, v2SubtreeControl)); string(b) != "+memory +pids +cpu" {
		t.Errorf("root %s = %q, want the controllers switched on up the tree", v2SubtreeControl, b)
	}
	if _, err := os.Stat(filepath.Join(h.root, Parent)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("create() left %s behind (stat: %v)", Parent, err)
	}
}

func TestBadID(t *testing.T) {
	h := fakeHost(t, v2Tree, map[string]string{"cgroup.controllers": "memory"})
	for _, id := range []string{"", "..", "../etc", "a/b"} {
		if _, err := h.create(sys.Discard(), id, Limits{}, v1Controllers); err == nil || exit.Status(err) != exit.ToolFailed {
			t.Errorf("create(%q) = %v, want a refusal (125)", id, err)
		}
	}
}

func TestStatsKnowsOOM(t *testing.T) {
	for _, tc := range []struct {
		s    Stats
		want bool
	}{
		{Stats{OOMKills: 1, MemoryHits: 3}, true},
		{Stats{OOMKills: 0, MemoryHits: 3}, false}, // reclaim kept it under: no kill
		{Stats{OOMKills: -1, MemoryHits: 3}, true}, // old v1 kernel: failcnt is all there is
		{Stats{OOMKills: -1, MemoryHits: 0}, false},
	} {
		if got := tc.s.OOMKilled(); got != tc.want {
			t.Errorf("%+v.OOMKilled() = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// NewLean's v1 group is made only in the hierarchies a run uses: no cpu
// group without a CPU limit, never a cpuacct one.
func TestLeanV1Hierarchies(t *testing.T) {
	h := fakeHost(t, v1Tree, nil)
	c, err := h.create(sys.Discard(), "abc123", Limits{}, Limits{}.leanControllers())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for ctrl := range c.dirs {
		got = append(got, ctrl)
	}
	sort.Strings(got)
	if want := []string{"freezer", "memory", "pids"}; !slices.Equal(got, want) {
		t.Errorf("lean group in %v, want %v", got, want)
	}
	for _, ctrl := range []string{"cpu", "cpuacct"} {
		if _, err := os.Stat(filepath.Join(h.root, ctrl, Parent, "abc123")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a lean group was made in the %s hierarchy (stat: %v)", ctrl, err)
		}
	}
	if got := (Limits{CPUs: 0.5}).leanControllers(); !slices.Contains(got, "cpu") || slices.Contains(got, "cpuacct") {
		t.Errorf("leanControllers with --cpus = %v, want cpu and no cpuacct", got)
	}
	full, err := h.create(sys.Discard(), "def456", Limits{}, v1Controllers)
	if err != nil {
		t.Fatal(err)
	}
	if len(full.dirs) != len(v1Controllers) {
		t.Errorf("New's group is in %d hierarchies, want all %d of step 4's", len(full.dirs), len(v1Controllers))
	}
}

// A hybrid machine booted with cgroup_no_v1 (its v1 hierarchies hold no
// limit controller, its unified tree lists them) is used as a cgroup v2
// machine whose tree is /sys/fs/cgroup/unified. A hybrid machine whose
// limits are in v1 stays hybrid, whatever its unified tree lists.
func TestResolveUnifiedControllers(t *testing.T) {
	moved := fakeHost(t, map[string]int64{".": tmpfsMagic, "unified": cgroup2Magic, "systemd": cgroupMagic},
		map[string]string{"unified/cgroup.controllers": "cpu io memory pids\n"})
	h := moved.resolve()
	if h.root != filepath.Join(moved.root, "unified") {
		t.Errorf("resolve() root = %s, want the unified tree", h.root)
	}
	if mode, err := h.detect(); err != nil || mode != V2 {
		t.Errorf("detect() on the unified tree = %v, %v; want cgroup v2", mode, err)
	}

	kept := fakeHost(t, map[string]int64{".": tmpfsMagic, "unified": cgroup2Magic, "memory": cgroupMagic, "pids": cgroupMagic},
		map[string]string{"unified/cgroup.controllers": "cpu memory pids\n"})
	if h := kept.resolve(); h.root != kept.root {
		t.Errorf("a hybrid machine with v1 memory and pids resolved to %s", h.root)
	}
	if mode, err := kept.resolve().detect(); err != nil || mode != Hybrid {
		t.Errorf("detect() = %v, %v; want hybrid", mode, err)
	}

	// Either limit controller in v1 keeps the machine hybrid: pids alone
	// there, memory in the unified tree. Moved to the unified tree, which
	// cannot have the controller v1 holds, a --pids limit would be
	// refused.
	pidsInV1 := fakeHost(t, map[string]int64{".": tmpfsMagic, "unified": cgroup2Magic, "pids": cgroupMagic, "systemd": cgroupMagic},
		map[string]string{"unified/cgroup.controllers": "memory\n"})
	if h := pidsInV1.resolve(); h.root != pidsInV1.root {
		t.Errorf("a hybrid machine with v1 pids (memory in unified) resolved to %s", h.root)
	}

	// Either limit controller in the unified tree, none in v1, makes it
	// the tree to use: pids alone there. Kept hybrid, the machine would
	// have no v1 hierarchy for any limit.
	onlyPids := fakeHost(t, map[string]int64{".": tmpfsMagic, "unified": cgroup2Magic, "systemd": cgroupMagic},
		map[string]string{"unified/cgroup.controllers": "pids\n"})
	if h := onlyPids.resolve(); h.root != filepath.Join(onlyPids.root, "unified") {
		t.Errorf("resolve() root = %s with only pids in the unified tree and no v1 limit controller, want the unified tree", h.root)
	}
}
