package doctor

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fakeHost is a machine where everything works, as files in a temp dir and
// probes that answer at once; each test breaks the one thing it checks.
func fakeHost(t *testing.T) *Host {
	t.Helper()
	dir := t.TempDir()
	h := &Host{
		ProcSys:     filepath.Join(dir, "proc/sys"),
		Filesystems: filepath.Join(dir, "proc/filesystems"),
		StateDir:    filepath.Join(dir, "state"),
		Euid:        0,
		Uname:       func() (string, string, error) { return "6.1.0-18-amd64", "x86_64", nil },
		LookPath:    func(f string) (string, error) { return "/usr/bin/" + f, nil },
		FreeBytes:   func(string) (uint64, error) { return 10 << 30, nil },
		Writable:    func(string) error { return nil },
		Noexec:      func(string) bool { return false },
		TryClone:    func(uintptr) error { return nil },
		TryMounts:   func(string) MountProbe { return MountProbe{} },
		Proc:        func() (string, string) { return "", "" },
		Cgroups:     &fakeCgroups{layout: CgroupLayout{Mode: "cgroup v2", Describe: "cgroup v2: one tree", Limits: map[string]bool{"memory": true, "cpu": true, "pids": true}}},
	}
	writeFile(t, filepath.Join(h.ProcSys, "user/max_user_namespaces"), "63382\n")
	writeFile(t, h.Filesystems, "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n")
	return h
}

// fakeCgroups stands for step 4: a layout, and limits that work unless
// refused names the controller; it records what it was asked to try.
type fakeCgroups struct {
	layout    CgroupLayout
	layoutErr error
	refused   map[string]error
	// switchedOn is what each TryLimit says it switched on.
	switchedOn []string
	tried      []string
}

func (f *fakeCgroups) Layout() (CgroupLayout, error) { return f.layout, f.layoutErr }

func (f *fakeCgroups) TryLimit(controller string) (Tried, error) {
	f.tried = append(f.tried, controller)
	if err := f.refused[controller]; err != nil {
		return Tried{}, err
	}
	return Tried{Dir: "/sys/fs/cgroup/workshop", SwitchedOn: f.switchedOn}, nil
}

// root is where fakeHost keeps its fake files.
func root(h *Host) string { return filepath.Dir(filepath.Dir(h.ProcSys)) }

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// find returns the findings named name.
func find(fs []Finding, name string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Name == name {
			out = append(out, f)
		}
	}
	return out
}

// only returns the one finding named name, failing the test otherwise.
func only(t *testing.T, fs []Finding, name string) Finding {
	t.Helper()
	got := find(fs, name)
	if len(got) != 1 {
		t.Fatalf("findings named %q: %d, want 1 (all: %+v)", name, len(got), fs)
	}
	return got[0]
}

var errFake = errors.New("fake failure")
