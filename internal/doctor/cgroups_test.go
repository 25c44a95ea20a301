package doctor

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Mount tables as the three kinds of host show them in /proc/self/mountinfo.

// mountinfoV2 is Debian 12's: one cgroup2 tree at /sys/fs/cgroup (under
// root, so that its cgroup.controllers can be a fake file).
func mountinfoV2(root string) string {
	return `22 29 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
26 22 0:23 / ` + root + `/sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
}

// mountinfoHybrid is the CI machine's: v1 controllers, each in its own
// hierarchy, a named systemd hierarchy, and a cgroup2 with no controllers.
const mountinfoHybrid = `27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

// mountinfoV1 is Debian 11 booted with systemd.unified_cgroup_hierarchy=0,
// the cgroupv1 classroom VM: cpu and cpuacct share a hierarchy.
const mountinfoV1 = `29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
30 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,name=systemd
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
36 30 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory
37 30 0:33 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
`

func TestParseMountinfo(t *testing.T) {
	got := parseMountinfo(`36 35 98:0 /mnt1 /mnt\0402 rw,noatime master:1 shared:3 - ext3 /dev/root rw,errors=continue
not a mountinfo line
`)
	if len(got) != 1 {
		t.Fatalf("parseMountinfo: %d entries, want 1: %+v", len(got), got)
	}
	m := got[0]
	if m.Point != "/mnt 2" || m.FSType != "ext3" || !slices.Equal(m.Options, []string{"rw", "noatime"}) || !slices.Equal(m.SuperOptions, []string{"rw", "errors=continue"}) {
		t.Errorf("parseMountinfo = %+v", m)
	}
}

func TestCgroupMode(t *testing.T) {
	for _, tc := range []struct {
		name, mountinfo, mode string
		v1                    []string
	}{
		{"hybrid", mountinfoHybrid, "hybrid", []string{"cpu", "cpuacct", "memory", "pids"}},
		{"v1", mountinfoV1, "v1", []string{"cpu", "cpuacct", "memory", "pids"}},
		{"v2", mountinfoV2(""), "v2", nil},
		{"none", "29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n", "none", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "mountinfo")
			writeFile(t, p, tc.mountinfo)
			l, err := readCgroupLayout(p)
			if err != nil {
				t.Fatal(err)
			}
			if l.mode() != tc.mode {
				t.Errorf("mode() = %q, want %q", l.mode(), tc.mode)
			}
			// xattr and name=systemd are options, not controllers.
			if got := sortedKeys(l.v1); !slices.Equal(got, tc.v1) {
				t.Errorf("v1 controllers = %q, want %q", got, tc.v1)
			}
		})
	}
}

// cgroupHost is fakeHost with the given mount table, recording the cgroups
// the checks try to make.
func cgroupHost(t *testing.T, mountinfo string) (*Host, *[]string) {
	h := fakeHost(t)
	writeFile(t, h.Mountinfo, mountinfo)
	var tried []string
	h.TryCgroup = func(dir, name string, files []string) ([]string, error) {
		tried = append(tried, filepath.Join(dir, name))
		return files, nil
	}
	return h, &tried
}

func TestCgroupsHybrid(t *testing.T) {
	h, tried := cgroupHost(t, mountinfoHybrid)
	fs := checkCgroups(h)
	if f := only(t, fs, "cgroups"); f.Status != OK || !strings.HasPrefix(f.Detail, "hybrid") || !strings.Contains(f.Detail, "/sys/fs/cgroup/unified") {
		t.Errorf("mode finding = %+v, want ok hybrid with the cgroup2 mount", f)
	}
	// On a hybrid host workshop uses the v1 hierarchies, and their v1 files.
	for ctrl, file := range map[string]string{"memory": "memory.limit_in_bytes", "cpu": "cpu.cfs_quota_us", "pids": "pids.max"} {
		f := only(t, fs, "cgroup "+ctrl)
		if f.Status != OK || !strings.Contains(f.Detail, file) || !strings.Contains(f.Detail, "/sys/fs/cgroup/"+ctrl+"/workshop") {
			t.Errorf("cgroup %s = %+v, want ok with %s under /sys/fs/cgroup/%s/workshop", ctrl, f, file, ctrl)
		}
	}
	for _, p := range *tried {
		if !strings.HasPrefix(filepath.Base(p), "workshop-doctor-") {
			t.Errorf("tried to make cgroup %s, want a throwaway workshop-doctor-PID", p)
		}
	}
	if len(*tried) != 3 {
		t.Errorf("made %d throwaway cgroups, want 3 (memory, cpu, pids): %q", len(*tried), *tried)
	}
}

func TestCgroupsV1SharedHierarchy(t *testing.T) {
	h, _ := cgroupHost(t, mountinfoV1)
	fs := checkCgroups(h)
	if f := only(t, fs, "cgroups"); f.Status != OK || !strings.HasPrefix(f.Detail, "v1") {
		t.Errorf("mode finding = %+v, want ok v1", f)
	}
	if f := only(t, fs, "cgroup cpu"); f.Status != OK || !strings.Contains(f.Detail, "/sys/fs/cgroup/cpu,cpuacct/workshop") {
		t.Errorf("cgroup cpu = %+v, want it in the shared cpu,cpuacct hierarchy", f)
	}
}

func TestCgroupsV2(t *testing.T) {
	h := fakeHost(t) // Debian 12: cgroup2 only, all controllers available
	fs := checkCgroups(h)
	if f := only(t, fs, "cgroups"); f.Status != OK || !strings.HasPrefix(f.Detail, "v2") || !strings.Contains(f.Detail, "memory.max") {
		t.Errorf("mode finding = %+v, want ok v2 naming the v2 files", f)
	}
	for _, ctrl := range []string{"memory", "cpu", "pids"} {
		if f := only(t, fs, "cgroup "+ctrl); f.Status != OK || !strings.HasPrefix(f.Detail, "v2") {
			t.Errorf("cgroup %s = %+v, want ok v2", ctrl, f)
		}
	}
}

func TestCgroupsV2MemoryMissing(t *testing.T) {
	// Raspberry Pi OS: the memory controller is off unless the kernel
	// command line turns it on.
	h := fakeHost(t)
	writeFile(t, filepath.Join(root(h), "sys/fs/cgroup/cgroup.controllers"), "cpuset cpu io pids\n")
	fs := checkCgroups(h)
	f := only(t, fs, "cgroup memory")
	if f.Status != Fail || !strings.Contains(f.Fix, "cgroup_enable=memory") {
		t.Errorf("cgroup memory = %+v, want fail with the cgroup_enable=memory fix", f)
	}
	if f := only(t, fs, "cgroup pids"); f.Status != OK {
		t.Errorf("cgroup pids = %+v, want ok", f)
	}
}

func TestCgroupsLimitFileMissing(t *testing.T) {
	// A v1 memory hierarchy whose cgroups lack memory.limit_in_bytes (a
	// kernel without CONFIG_MEMCG_...): the step could not set the limit.
	h, _ := cgroupHost(t, mountinfoHybrid)
	h.TryCgroup = func(dir, name string, files []string) ([]string, error) { return nil, nil }
	f := only(t, checkCgroups(h), "cgroup memory")
	if f.Status != Fail || !strings.Contains(f.Detail, "memory.limit_in_bytes") {
		t.Errorf("cgroup memory = %+v, want fail naming memory.limit_in_bytes", f)
	}
}

func TestCgroupsReadOnly(t *testing.T) {
	// Inside a container the cgroup filesystem is usually mounted read-only.
	h, tried := cgroupHost(t, strings.ReplaceAll(mountinfoHybrid, "/sys/fs/cgroup/memory rw,", "/sys/fs/cgroup/memory ro,"))
	f := only(t, checkCgroups(h), "cgroup memory")
	if f.Status != Fail || !strings.Contains(f.Detail, "read-only") {
		t.Errorf("cgroup memory = %+v, want fail: read-only", f)
	}
	for _, p := range *tried {
		if strings.Contains(p, "/memory/") {
			t.Errorf("tried to make %s in a read-only hierarchy", p)
		}
	}
}

func TestCgroupsMkdirRefused(t *testing.T) {
	h, _ := cgroupHost(t, mountinfoHybrid)
	h.TryCgroup = func(dir, name string, files []string) ([]string, error) { return nil, errFake }
	if f := only(t, checkCgroups(h), "cgroup pids"); f.Status != Fail || !strings.Contains(f.Detail, errFake.Error()) {
		t.Errorf("cgroup pids = %+v, want fail with the mkdir error", f)
	}
}

func TestCgroupsNone(t *testing.T) {
	h, _ := cgroupHost(t, "29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n")
	fs := checkCgroups(h)
	if f := only(t, fs, "cgroups"); f.Status != Fail || !strings.Contains(f.Fix, "mount -t cgroup2") {
		t.Errorf("mode finding = %+v, want fail with a mount fix", f)
	}
	if f := only(t, fs, "cgroup memory"); f.Status != Fail {
		t.Errorf("cgroup memory = %+v, want fail", f)
	}
}

func TestCgroupsNotRoot(t *testing.T) {
	h, tried := cgroupHost(t, mountinfoHybrid)
	h.Euid = 1000
	if f := only(t, checkCgroups(h), "cgroup memory"); f.Status != Skip {
		t.Errorf("cgroup memory as uid 1000 = %+v, want skip", f)
	}
	if len(*tried) != 0 {
		t.Errorf("made cgroups %q without root", *tried)
	}
}

func TestTryCgroupRemovesWhatItMade(t *testing.T) {
	// In a plain directory mkdir works and no controller files appear.
	dir := t.TempDir()
	present, err := tryCgroup(dir, "workshop-doctor-1", []string{"pids.max"})
	if err != nil || len(present) != 0 {
		t.Errorf("tryCgroup in a plain dir = %q, %v; want none, nil", present, err)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*")); len(matches) != 0 {
		t.Errorf("tryCgroup left %q behind", matches)
	}
}
