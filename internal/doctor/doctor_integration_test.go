package doctor_test

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

func TestMain(m *testing.M) { testbin.Main(m) }

// line returns the report's line for the check named name.
func line(report, name string) string {
	for _, l := range strings.Split(report, "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && strings.HasPrefix(l[len(f[0]):], "  ") && strings.HasPrefix(strings.TrimSpace(l[len(f[0]):]), name+" ") {
			return l
		}
	}
	return ""
}

// leftovers are the throwaway cgroups a doctor run may have left.
func leftovers(t *testing.T) []string {
	t.Helper()
	var all []string
	for _, pattern := range []string{"/sys/fs/cgroup/workshop/doctor-*", "/sys/fs/cgroup/*/workshop/doctor-*"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, m...)
	}
	return all
}

// rootIsInitramfs reports whether / is the initramfs, as in the cgroup v2
// VM of vm/run-cgroup-v2: pivot_root(2) cannot move that root away, and
// doctor must say so.
func rootIsInitramfs(t *testing.T) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		// "1 1 0:2 / / rw - rootfs rootfs rw": mount point, then fs type.
		mount, fs, ok := strings.Cut(l, " - ")
		if m, f := strings.Fields(mount), strings.Fields(fs); ok && len(m) > 4 && m[4] == "/" && len(f) > 0 && f[0] == "rootfs" {
			return true
		}
	}
	return false
}

// TestDoctorPassesHere runs the real checks as root: this machine (and the
// classroom VM) has everything the steps need. In an initramfs, only
// pivot_root fails, and doctor says why.
func TestDoctorPassesHere(t *testing.T) {
	testbin.NeedRoot(t)
	before := leftovers(t)
	state := t.TempDir()
	r := testbin.Run(t, "", "--state-dir", state, "doctor")
	wantCode, pivot := 0, "ok "
	if rootIsInitramfs(t) {
		wantCode, pivot = 1, "fail "
		if !strings.Contains(line(r.Stdout, "pivot_root"), "initramfs") {
			t.Errorf("pivot_root line %q in an initramfs, want it to say so", line(r.Stdout, "pivot_root"))
		}
	}
	if r.Code != wantCode {
		t.Fatalf("workshop doctor exit = %d, want %d\nstdout:\n%s\nstderr:\n%s", r.Code, wantCode, r.Stdout, r.Stderr)
	}
	if l := line(r.Stdout, "pivot_root"); !strings.HasPrefix(l, pivot) {
		t.Errorf("pivot_root line = %q, want %q\n%s", l, pivot, r.Stdout)
	}
	for _, name := range []string{"root", "kernel", "architecture",
		"namespace mount", "namespace uts", "namespace ipc", "namespace net", "namespace pid", "namespace user", "namespace cgroup",
		"cgroups", "cgroup memory", "cgroup cpu", "cgroup pids", "overlayfs"} {
		if l := line(r.Stdout, name); !strings.HasPrefix(l, "ok ") {
			t.Errorf("%q line = %q, want ok\n%s", name, l, r.Stdout)
		}
	}
	// A small disk (the v2 VM's tmpfs) is worth a warning, no more.
	if l := line(r.Stdout, "state dir"); !strings.HasPrefix(l, "ok ") && !strings.HasPrefix(l, "warn ") {
		t.Errorf("state dir line = %q, want ok or warn\n%s", l, r.Stdout)
	}
	if wantCode == 0 && !strings.Contains(r.Stdout, "Everything the steps need is here") {
		t.Errorf("report does not close with the verdict:\n%s", r.Stdout)
	}
	// The overlay probe ran in the state dir, and left nothing there.
	if l := line(r.Stdout, "overlayfs"); !strings.Contains(l, state) {
		t.Errorf("overlayfs line %q, want the probe in the state dir %s", l, state)
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("doctor left %v in the state dir", entries)
	}
	if after := leftovers(t); len(after) != len(before) {
		t.Errorf("doctor left throwaway cgroups: %q (before: %q)", after, before)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), state) || strings.Contains(string(mounts), ".workshop-doctor-") {
		t.Errorf("a probe's mount is visible on the host:\n%s", mounts)
	}
}

// TestDoctorWithoutRoot runs it as nobody: the root line fails, with the
// fix, the exit status is 1, and what needs root is skipped, not failed.
func TestDoctorWithoutRoot(t *testing.T) {
	testbin.NeedRoot(t) // to become nobody
	// t.TempDir and its parent are private to root: open both to nobody.
	dir := t.TempDir()
	testbin.Chmod(t, 0o755, filepath.Dir(dir), dir)
	bin := filepath.Join(dir, "workshop")
	copyFile(t, testbin.Bin(t), bin)
	if err := os.Chmod(bin, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--state-dir", dir, "doctor")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	report := string(out)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("workshop doctor as nobody: %v, want exit status 1\n%s", err, report)
	}
	if l := line(report, "root"); !strings.HasPrefix(l, "fail") || !strings.Contains(report, "fix: run it with sudo") {
		t.Errorf("root line %q, want fail and the sudo fix\n%s", l, report)
	}
	for _, name := range []string{"namespace net", "cgroup memory", "overlayfs", "pivot_root"} {
		if l := line(report, name); !strings.HasPrefix(l, "skip") {
			t.Errorf("%q line = %q, want skip without root", name, l)
		}
	}
	fails := 0
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "fail ") {
			fails++
		}
	}
	if fails != 1 {
		t.Errorf("report as nobody has %d fail lines, want only the root one:\n%s", fails, report)
	}
}

func TestDoctorBadCommandLine(t *testing.T) {
	for _, args := range [][]string{{"doctor", "--bogus"}, {"doctor", "extra"}} {
		r := testbin.Run(t, "", args...)
		if r.Code != 125 || strings.Contains(r.Stderr, "goroutine ") || r.Stderr == "" {
			t.Errorf("workshop %q = %d %q, want 125 and one sentence", args, r.Code, r.Stderr)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
