package doctor

import (
	"os"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

func TestMounts(t *testing.T) {
	overlayErr := &CallError{Call: `mount("overlay", …)`, Errno: unix.EINVAL}
	for _, tc := range []struct {
		name             string
		probe            MountProbe
		filesystems      string
		overlay, pivot   Status
		overlayFix, says string
	}{
		{name: "works", overlay: OK, pivot: OK},
		{name: "no overlay module", probe: MountProbe{Overlay: &CallError{Call: "mount", Errno: unix.ENODEV}},
			filesystems: "nodev\tsysfs\n", overlay: Warn, pivot: OK, overlayFix: "modprobe overlay", says: "not in"},
		{name: "overlay on overlay", probe: MountProbe{Overlay: overlayErr},
			overlay: Fail, pivot: OK, overlayFix: "--state-dir", says: "EINVAL"},
		{name: "initramfs", probe: MountProbe{PivotRoot: &CallError{Call: "pivot_root", Errno: unix.EINVAL}},
			overlay: OK, pivot: Fail, says: "initramfs"},
		{name: "no mount namespace", probe: MountProbe{Setup: &CallError{Call: "clone(CLONE_NEWNS)", Errno: unix.EPERM}},
			overlay: Fail, pivot: Fail, overlayFix: "classroom VM", says: "EPERM"},
		// A full state dir's filesystem: not the kernel's fault ("inside a
		// container?"), and the state dir's own line says it.
		{name: "no room", probe: MountProbe{Setup: &CallError{Call: `mkdir("/x/upper", 0755)`, Errno: unix.ENOSPC}},
			overlay: Skip, pivot: Skip, says: "no room for its scratch directories"},
		{name: "no room for the scratch", probe: MountProbe{Setup: &os.PathError{Op: "mkdir", Path: "/x", Err: unix.ENOSPC}},
			overlay: Skip, pivot: Skip, says: "no room for its scratch directories"},
		// ENOSPC from the clone is the mount namespaces' limit.
		{name: "no more mount namespaces", probe: MountProbe{Setup: &CallError{Call: "clone(CLONE_NEWNS)", Errno: unix.ENOSPC}},
			overlay: Fail, pivot: Fail, says: "ENOSPC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeHost(t)
			if tc.filesystems != "" {
				writeFile(t, h.Filesystems, tc.filesystems)
			}
			var dirs []string
			h.TryMounts = func(dir string) MountProbe { dirs = append(dirs, dir); return tc.probe }
			fs := checkMounts(h)
			o, p := only(t, fs, "overlayfs"), only(t, fs, "pivot_root")
			if o.Status != tc.overlay || p.Status != tc.pivot {
				t.Errorf("overlayfs, pivot_root = %v, %v; want %v, %v (%+v)", o.Status, p.Status, tc.overlay, tc.pivot, fs)
			}
			if tc.overlayFix != "" && !strings.Contains(o.Fix, tc.overlayFix) {
				t.Errorf("overlayfs fix = %q, want it to say %q", o.Fix, tc.overlayFix)
			}
			if tc.says != "" && !strings.Contains(o.Detail+p.Detail, tc.says) {
				t.Errorf("details %q / %q do not say %q", o.Detail, p.Detail, tc.says)
			}
			// The state dir is not made yet: the probe runs where it will
			// be made (its nearest existing parent), on its filesystem, not
			// in the temp dir.
			if want := existingAncestor(h.StateDir); len(dirs) != 1 || dirs[0] != want || want == h.StateDir {
				t.Errorf("probed in %q, want [%s]", dirs, want)
			}
		})
	}
}

func TestMountsUseTheStateDir(t *testing.T) {
	h := fakeHost(t)
	if err := os.Mkdir(h.StateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var dir string
	h.TryMounts = func(d string) MountProbe { dir = d; return MountProbe{} }
	checkMounts(h)
	if dir != h.StateDir {
		t.Errorf("probed in %s, want the state dir %s: the overlay's upper layer lives there", dir, h.StateDir)
	}
}

func TestMountsNotRoot(t *testing.T) {
	h := fakeHost(t)
	h.Euid = 1000
	h.TryMounts = func(string) MountProbe { t.Error("probed mounts without root"); return MountProbe{} }
	for _, f := range checkMounts(h) {
		if f.Status != Skip {
			t.Errorf("%+v as uid 1000, want skip", f)
		}
	}
}

func TestHasFilesystem(t *testing.T) {
	h := fakeHost(t)
	if !hasFilesystem(h, "overlay") || !hasFilesystem(h, "ext4") || hasFilesystem(h, "btrfs") {
		t.Errorf("hasFilesystem against %s: overlay, ext4, btrfs = %v, %v, %v; want true, true, false",
			h.Filesystems, hasFilesystem(h, "overlay"), hasFilesystem(h, "ext4"), hasFilesystem(h, "btrfs"))
	}
}

func TestProbeWireNilErrors(t *testing.T) {
	// A nil *CallError must not turn into a non-nil error.
	p := probeWire{}.probe()
	if p.Setup != nil || p.Overlay != nil || p.PivotRoot != nil {
		t.Errorf("probeWire{}.probe() = %+v, want no errors", p)
	}
}

// Root of a user namespace without a mount namespace of its own: the
// probes, in a mount namespace they make, work, and step 6's overlay, in
// workshop's own, is refused. The report fails, and says how to fix it.
func TestMountsInAMountNamespaceNotOurs(t *testing.T) {
	h := fakeHost(t)
	h.MountNSNotOurs = func() bool { return true }
	fs := checkMounts(h)
	f := only(t, fs, "mount namespace")
	if f.Status != Fail || !strings.Contains(f.Fix, "unshare --user --map-root-user --mount") {
		t.Errorf("mount namespace finding = %+v; want a failure, and the fix", f)
	}
	h.MountNSNotOurs = func() bool { return false }
	for _, f := range checkMounts(h) {
		if f.Name == "mount namespace" {
			t.Errorf("a finding on the mount namespace where it is workshop's own: %+v", f)
		}
	}
}

// On this machine, as the host's root, the mount namespace is workshop's
// own; under `unshare --user --map-root-user` (no --mount) it is not.
func TestMountNSNotOursForReal(t *testing.T) {
	testbin.NeedRoot(t)
	if MountNSNotOurs() {
		t.Errorf("MountNSNotOurs = true for the host's root")
	}
}
