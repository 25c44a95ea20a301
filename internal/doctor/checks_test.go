package doctor

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRoot(t *testing.T) {
	h := fakeHost(t)
	if f := only(t, checkRoot(h), "root"); f.Status != OK {
		t.Errorf("root as uid 0 = %+v, want ok", f)
	}
	h.Euid = 1000
	if f := only(t, checkRoot(h), "root"); f.Status != Fail || !strings.Contains(f.Fix, "sudo workshop doctor") {
		t.Errorf("root as uid 1000 = %+v, want fail telling to use sudo", f)
	}
}

func TestProc(t *testing.T) {
	h := fakeHost(t)
	if f := only(t, checkProc(h), "/proc"); f.Status != OK {
		t.Errorf("this namespace's /proc = %+v, want ok", f)
	}
	h.Proc = func() (string, string) { return "this /proc is another PID namespace's", "mount its /proc" }
	if f := only(t, checkProc(h), "/proc"); f.Status != Fail || !strings.Contains(f.Detail, "another PID namespace's: steps 3 to 6") || f.Fix != "mount its /proc" {
		t.Errorf("another namespace's /proc = %+v, want fail with the fix", f)
	}
	// The real one, here.
	if why, _ := OwnProc(); why != "" {
		t.Errorf("OwnProc() in the test's own namespace = %q", why)
	}
}

// Files of /proc mounted over (lxcfs): no user namespace may mount a /proc
// of its own, and doctor, which said all was well, fails and names them.
func TestProcOvermounted(t *testing.T) {
	h := fakeHost(t)
	h.ProcOvermounts = func() []string { return []string{"/proc/meminfo", "/proc/cpuinfo", "/proc/stat", "/proc/uptime"} }
	f := only(t, checkProc(h), "/proc")
	if f.Status != Fail || !strings.Contains(f.Detail, "/proc/meminfo, /proc/cpuinfo, /proc/stat, …, as lxcfs does") || !strings.Contains(f.Fix, "--ns mount,uts,ipc,net,pid,cgroup") {
		t.Errorf("an overmounted /proc = %+v", f)
	}
}

func TestKernelVersion(t *testing.T) {
	for _, tc := range []struct {
		release      string
		major, minor int
		ok           bool
	}{
		{"6.1.0-18-amd64", 6, 1, true},
		{"5.15.0-105-generic", 5, 15, true},
		{"6.18.44-fc-v657", 6, 18, true},
		{"4.19+", 4, 19, true},
		{"garbage", 0, 0, false},
	} {
		major, minor, ok := kernelVersion(tc.release)
		if major != tc.major || minor != tc.minor || ok != tc.ok {
			t.Errorf("kernelVersion(%q) = %d, %d, %v; want %d, %d, %v", tc.release, major, minor, ok, tc.major, tc.minor, tc.ok)
		}
	}
}

func TestKernel(t *testing.T) {
	for _, tc := range []struct {
		release, machine     string
		kernel, architecture Status
	}{
		{"6.1.0-18-amd64", "x86_64", OK, OK},
		{"6.1.0-18-arm64", "aarch64", OK, OK},
		{"4.19.0-6-amd64", "x86_64", Warn, OK},
		{"5.4.0-150-generic", "x86_64", Warn, OK}, // no CLONE_INTO_CGROUP (5.7) on this (fake) cgroup v2 host
		{"5.10.0-28-amd64", "x86_64", OK, OK},
		{"6.6.20+rpt-rpi-v7", "armv7l", OK, Warn},
		{"weird", "x86_64", Warn, OK},
	} {
		h := fakeHost(t)
		h.Uname = func() (string, string, error) { return tc.release, tc.machine, nil }
		fs := checkKernel(h)
		// v1 and hybrid hosts need no CLONE_INTO_CGROUP: no warning.
		if tc.release == "5.4.0-150-generic" {
			hybrid := fakeHost(t)
			hybrid.Uname = h.Uname
			hybrid.Cgroups = &fakeCgroups{layout: CgroupLayout{Mode: "hybrid"}}
			if f := only(t, checkKernel(hybrid), "kernel"); f.Status != OK {
				t.Errorf("kernel 5.4 on a hybrid host = %+v, want ok", f)
			}
		}
		if f := only(t, fs, "kernel"); f.Status != tc.kernel {
			t.Errorf("kernel %s = %+v, want %v", tc.release, f, tc.kernel)
		}
		if f := only(t, fs, "architecture"); f.Status != tc.architecture || !strings.Contains(f.Detail, tc.machine) {
			t.Errorf("architecture %s = %+v, want %v naming it", tc.machine, f, tc.architecture)
		}
	}
}

func TestUserNSSysctls(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sysctls map[string]string // path under /proc/sys -> value; "" removes it
		want    []Status
		fix     string
	}{
		{"allowed", nil, []Status{OK}, ""},
		{"debian unprivileged off", map[string]string{"kernel/unprivileged_userns_clone": "0"}, []Status{Warn}, "kernel.unprivileged_userns_clone=1"},
		{"debian unprivileged on", map[string]string{"kernel/unprivileged_userns_clone": "1"}, []Status{OK}, ""},
		{"ubuntu apparmor", map[string]string{"kernel/apparmor_restrict_unprivileged_userns": "1"}, []Status{Warn}, "apparmor_restrict_unprivileged_userns=0"},
		{"both", map[string]string{"kernel/unprivileged_userns_clone": "0", "kernel/apparmor_restrict_unprivileged_userns": "1"}, []Status{Warn, Warn}, ""},
		{"max zero", map[string]string{"user/max_user_namespaces": "0"}, []Status{Fail}, "user.max_user_namespaces=15000"},
		{"no user namespaces", map[string]string{"user/max_user_namespaces": ""}, []Status{Fail}, "CONFIG_USER_NS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeHost(t)
			for p, v := range tc.sysctls {
				path := filepath.Join(h.ProcSys, p)
				if v == "" {
					os.Remove(path)
					continue
				}
				writeFile(t, path, v+"\n")
			}
			fs := checkUserNSSysctls(h)
			var got []Status
			for _, f := range fs {
				got = append(got, f.Status)
				if f.Status != OK && f.Fix == "" {
					t.Errorf("%+v: not ok, and no fix", f)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("statuses = %v, want %v (%+v)", got, tc.want, fs)
			}
			if tc.fix != "" && !strings.Contains(fs[0].Fix, tc.fix) {
				t.Errorf("fix = %q, want it to say %q", fs[0].Fix, tc.fix)
			}
		})
	}
}

func TestTools(t *testing.T) {
	h := fakeHost(t)
	h.LookPath = func(f string) (string, error) {
		if f == "busybox" {
			return "", fmt.Errorf("exec: %q: executable file not found in $PATH", f)
		}
		return "/usr/bin/" + f, nil
	}
	fs := checkTools(h)
	if f := only(t, fs, "strace"); f.Status != OK || f.Detail != "/usr/bin/strace" {
		t.Errorf("strace = %+v, want ok at /usr/bin/strace", f)
	}
	if f := only(t, fs, "busybox"); f.Status != Warn || f.Fix != "sudo apt-get install busybox-static" {
		t.Errorf("busybox = %+v, want warn with the apt-get fix", f)
	}
	if f := only(t, fs, "cgcreate"); f.Status != OK {
		t.Errorf("cgcreate = %+v, want ok", f)
	}
	// A dynamically linked busybox (Debian's busybox package) cannot run
	// alone in an empty root, as lesson 1 has it: a warning, with the fix.
	h.LookPath = func(f string) (string, error) { return "/bin/bash", nil } // a dynamic program
	if f := only(t, checkTools(h), "busybox"); f.Status != Warn || !strings.Contains(f.Detail, "is dynamically linked") || f.Fix != "sudo apt-get install busybox-static" {
		t.Errorf("a dynamic busybox = %+v, want warn with the apt-get fix", f)
	}
	if f := only(t, checkTools(h), "strace"); f.Status != OK {
		t.Errorf("a dynamic strace = %+v, want ok", f)
	}
}

func TestSpace(t *testing.T) {
	for _, tc := range []struct {
		free uint64
		want Status
	}{
		{10 << 30, OK},
		{300 << 20, Warn},
		{10 << 20, Fail},
	} {
		h := fakeHost(t)
		h.FreeBytes = func(string) (uint64, error) { return tc.free, nil }
		if f := only(t, checkSpace(h), "state dir"); f.Status != tc.want {
			t.Errorf("%s free = %+v, want %v", humanBytes(tc.free), f, tc.want)
		}
	}
}

func TestSpaceLooksWhereTheStateDirWillBe(t *testing.T) {
	h := fakeHost(t) // the state dir is not made yet
	var asked string
	h.FreeBytes = func(p string) (uint64, error) { asked = p; return 1 << 30, nil }
	f := only(t, checkSpace(h), "state dir")
	if asked != root(h) || !strings.Contains(f.Detail, "not made yet") {
		t.Errorf("FreeBytes(%q), %+v; want it asked about %s, the nearest existing parent", asked, f, root(h))
	}
	if err := os.Mkdir(h.StateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	only(t, checkSpace(h), "state dir")
	if asked != h.StateDir {
		t.Errorf("FreeBytes(%q), want the state dir %s once it exists", asked, h.StateDir)
	}
}

func TestStateDirOnANoexecFilesystem(t *testing.T) {
	h := fakeHost(t)
	h.Noexec = func(string) bool { return true }
	if f := only(t, checkSpace(h), "state dir"); f.Status != Fail || !strings.Contains(f.Detail, "mounted noexec") || !strings.Contains(f.Detail, "step 6 runs them through its overlay") {
		t.Errorf("a state dir on a noexec filesystem = %+v, want a failure (steps 2 to 5 fail; step 6 works)", f)
	}
}

func TestSpaceStateDirIsAFile(t *testing.T) {
	h := fakeHost(t)
	writeFile(t, h.StateDir, "")
	if f := only(t, checkSpace(h), "state dir"); f.Status != Fail || !strings.Contains(f.Detail, "not a directory") {
		t.Errorf("state dir that is a file = %+v, want fail", f)
	}
}

func TestFreeBytesOfARealDir(t *testing.T) {
	n, err := freeBytes(t.TempDir())
	if err != nil || n == 0 {
		t.Errorf("freeBytes(temp dir) = %d, %v; want some space", n, err)
	}
	if _, err := freeBytes(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "statfs") {
		t.Errorf("freeBytes(missing) error = %v, want one naming statfs", err)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{512: "512 B", 1536: "1.5 KiB", 300 << 20: "300.0 MiB", 77 << 30: "77.0 GiB", 3 << 40: "3.0 TiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNamespaces(t *testing.T) {
	h := fakeHost(t)
	fs := checkNamespaces(h)
	if len(fs) != 7 {
		t.Fatalf("%d namespace findings, want one per kind, 7: %+v", len(fs), fs)
	}
	for _, f := range fs {
		if f.Status != OK {
			t.Errorf("%+v, want ok", f)
		}
	}

	// Each errno clone(2) can give says something different.
	writeFile(t, filepath.Join(h.ProcSys, "user/max_net_namespaces"), "0\n")
	for _, tc := range []struct {
		ns   string
		flag uintptr
		err  error
		euid int
		fix  string
	}{
		{"cgroup", unix.CLONE_NEWCGROUP, unix.EINVAL, 0, "built without cgroup namespaces"},
		{"net", unix.CLONE_NEWNET, unix.ENOSPC, 0, "user.max_net_namespaces = 0"},
		{"ipc", unix.CLONE_NEWIPC, unix.ENOSPC, 0, "limit user.max_ipc_namespaces is reached"},
		{"uts", unix.CLONE_NEWUTS, unix.EPERM, 0, "inside a container"},
		{"user", unix.CLONE_NEWUSER, unix.EPERM, 1000, "user namespaces line"},
	} {
		h.Euid = tc.euid
		h.TryClone = func(flag uintptr) error {
			if flag == tc.flag {
				return tc.err
			}
			return nil
		}
		f := only(t, checkNamespaces(h), "namespace "+tc.ns)
		if f.Status != Fail || !strings.Contains(f.Fix, tc.fix) || !strings.Contains(f.Detail, unix.ErrnoName(tc.err.(unix.Errno))) {
			t.Errorf("clone of %s failing with %v as uid %d = %+v; want fail naming the errno, fix saying %q", tc.ns, tc.err, tc.euid, f, tc.fix)
		}
	}
}

func TestNamespacesNotRoot(t *testing.T) {
	h := fakeHost(t)
	h.Euid = 1000
	var tried []uintptr
	h.TryClone = func(flag uintptr) error { tried = append(tried, flag); return nil }
	for _, f := range checkNamespaces(h) {
		want := Skip
		if f.Name == "namespace user" {
			want = OK // the one a user may make without root
		}
		if f.Status != want {
			t.Errorf("%+v as uid 1000, want %v", f, want)
		}
	}
	if len(tried) != 1 || tried[0] != unix.CLONE_NEWUSER {
		t.Errorf("tried flags %#x as uid 1000, want only CLONE_NEWUSER", tried)
	}
}

func TestFailure(t *testing.T) {
	if got := failure(unix.EPERM); got != "-1 EPERM (Operation not permitted)" {
		t.Errorf("failure(EPERM) = %q", got)
	}
	if got := failure(errFake); got != errFake.Error() {
		t.Errorf("failure(%v) = %q", errFake, got)
	}
}

// A state dir on a read-only filesystem fails its own line, and the mount
// checks, whose scratch directories it would hold, are not tried (they used
// to fail as "no throwaway mount namespace", and the state dir passed).
func TestReadOnlyStateDir(t *testing.T) {
	h := fakeHost(t)
	h.Euid = 0
	h.Writable = func(dir string) error {
		return &fs.PathError{Op: "access", Path: dir, Err: unix.EROFS}
	}
	if f := only(t, checkSpace(h), "state dir"); f.Status != Fail || !strings.Contains(f.Detail, "cannot be written in: read-only file system") {
		t.Errorf("read-only state dir = %+v, want fail, saying so", f)
	}
	if err := os.Mkdir(h.StateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	h.TryMounts = func(string) MountProbe {
		t.Error("the mounts were tried in a read-only state dir")
		return MountProbe{}
	}
	for _, f := range checkMounts(h) {
		if f.Status != Skip || !strings.Contains(f.Detail, "state dir cannot be written in") {
			t.Errorf("%s with a read-only state dir = %+v, want skip, pointing at the state dir", f.Name, f)
		}
	}
}
