package container

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
)

func TestMountLayerWritesGoUp(t *testing.T) {
	testbin.NeedRoot(t)
	lower, dir := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(lower, "from-image"), []byte("image"), 0o644)
	l, err := MountLayer(sys.Discard(), lower, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unmount(sys.Discard())
	if b, err := os.ReadFile(filepath.Join(l.Merged, "from-image")); err != nil || string(b) != "image" {
		t.Fatalf("merged root lacks the image's file: %q, %v", b, err)
	}
	os.WriteFile(filepath.Join(l.Merged, "from-image"), []byte("changed"), 0o644)
	if b, _ := os.ReadFile(filepath.Join(lower, "from-image")); string(b) != "image" {
		t.Errorf("writing in the container changed the image: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(l.Upper, "from-image")); string(b) != "changed" {
		t.Errorf("the write is not in the upper layer: %q", b)
	}
	if err := l.Unmount(sys.Discard()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(l.Merged, "from-image")); err == nil {
		t.Errorf("after Unmount the merged dir still shows the image")
	}
}

// A throwaway layer is mounted volatile: its unmount does not sync the
// filesystem under the state dir.
func TestMountLayerThrowawayIsVolatile(t *testing.T) {
	testbin.NeedRoot(t)
	lower, dir := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(lower, "from-image"), []byte("image"), 0o644)
	l, err := MountLayer(sys.Discard(), lower, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unmount(sys.Discard())
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == l.Merged {
			found = true
			if !strings.Contains(line, "volatile") {
				t.Errorf("the throwaway layer is not mounted volatile: %s", line)
			}
		}
	}
	if !found {
		t.Fatalf("%s is not in mountinfo", l.Merged)
	}
	os.WriteFile(filepath.Join(l.Merged, "new"), []byte("x"), 0o644)
	if b, _ := os.ReadFile(filepath.Join(l.Upper, "new")); string(b) != "x" {
		t.Errorf("the write is not in the upper layer: %q", b)
	}
}

// The kernel reads one page of a mount's options: a state dir so long that
// the three paths do not fit is refused in a sentence before anything is
// made (the mount used to fail with ENOENT, blamed on overlayfs).
func TestMountLayerPathsTooLong(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, strings.Repeat("d", 250), strings.Repeat("e", 250), strings.Repeat("f", 250),
		strings.Repeat("g", 250), strings.Repeat("h", 250), strings.Repeat("i", 250), "layer")
	_, err := MountLayer(sys.Discard(), filepath.Join(dir, "image"), dir, true)
	if err == nil || !strings.Contains(err.Error(), "give a shorter --state-dir") {
		t.Fatalf("MountLayer with %d-byte paths = %v, want the sentence about a shorter --state-dir", len(dir), err)
	}
	if entries, _ := os.ReadDir(base); len(entries) != 0 {
		t.Errorf("MountLayer made %d entries before refusing", len(entries))
	}
}

// Run checks the layer's options before anything is made: only the state
// dir's length varies. The volatile option counts only for a throwaway
// layer (a --keep layer is mounted without it).
func TestLayerFits(t *testing.T) {
	if err := LayerFits("/var/lib/workshop", true); err != nil {
		t.Errorf("LayerFits(/var/lib/workshop) = %v", err)
	}
	// Three paths of the state dir's length fill the page.
	page := os.Getpagesize()
	long := "/" + strings.Repeat("s", page/3)
	if err := LayerFits(long, false); err == nil || !strings.Contains(err.Error(), "give a shorter --state-dir") {
		t.Errorf("LayerFits of a %d-byte state dir = %v", len(long), err)
	}
	// A state dir whose layer fits only without ",volatile" is there,
	// between a short one and that long one.
	found := false
	for n := 1; n < page/3 && !found; n++ {
		dir := "/" + strings.Repeat("s", n)
		if LayerFits(dir, true) != nil {
			found = true
			if err := LayerFits(dir, false); err != nil {
				t.Errorf("a state dir of %d bytes: the kept layer, without volatile, does not fit either: %v", n+1, err)
			}
		}
	}
	if !found {
		t.Errorf("no state dir shorter than %d bytes makes a throwaway layer too long", page/3)
	}
}

// A state dir on an overlay (as in a container) cannot hold an upper
// layer: the kernel's EINVAL is said to be the state dir's filesystem,
// not a missing overlayfs.
func TestMountLayerOnAnOverlay(t *testing.T) {
	testbin.NeedRoot(t)
	base := t.TempDir()
	lower, upper, work, merged := filepath.Join(base, "l"), filepath.Join(base, "u"), filepath.Join(base, "w"), filepath.Join(base, "m")
	for _, d := range []string{lower, upper, work, merged} {
		os.Mkdir(d, 0o755)
	}
	if err := syscall.Mount("overlay", merged, "overlay", 0, "lowerdir="+lower+",upperdir="+upper+",workdir="+work); err != nil {
		t.Fatalf("mount an overlay to hold the state dir: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(merged, syscall.MNT_DETACH) })
	image, layer := filepath.Join(merged, "image"), filepath.Join(merged, "layer")
	os.Mkdir(image, 0o755)
	os.Mkdir(layer, 0o755)
	l, err := MountLayer(sys.Discard(), image, layer, true)
	if err == nil {
		l.Unmount(sys.Discard())
		t.Fatalf("this kernel mounted an overlay whose upper layer is on an overlay: the test needs one that refuses it (EINVAL), as Linux 6.x does")
	}
	if !strings.Contains(err.Error(), "the state dir's filesystem may not hold an upper layer") || strings.Contains(err.Error(), "is overlayfs available") {
		t.Errorf("MountLayer on an overlay = %v", err)
	}
}

// Where the kernel has no overlayfs (ENODEV: here a filesystem type no
// kernel has), the image is copied into the root instead, and the copy's
// calls are summed up in a note, not hidden.
func TestMountLayerCopiesWithoutOverlayfs(t *testing.T) {
	testbin.NeedRoot(t)
	defer func(was string) { overlayType = was }(overlayType)
	overlayType = "workshop-no-such-fs"
	lower, dir := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(lower, "etc"), 0o755)
	os.WriteFile(filepath.Join(lower, "etc", "motd"), []byte("image"), 0o644)
	os.Symlink("etc/motd", filepath.Join(lower, "motd"))
	var out strings.Builder
	l, err := MountLayer(sys.New(&out, sys.Options{}), lower, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Copied {
		t.Fatalf("MountLayer without overlayfs did not copy:\n%s", out.String())
	}
	if b, err := os.ReadFile(filepath.Join(l.Merged, "motd")); err != nil || string(b) != "image" {
		t.Errorf("the copy lacks the image's file: %q, %v", b, err)
	}
	for _, want := range []string{
		`mount("overlay", "` + l.Merged + `", "workshop-no-such-fs", MS_NODEV, `,
		"= -1 ENODEV",
		"this kernel has no overlayfs: copying the image into " + l.Merged,
		"copied 1 directory, 1 file and 1 symlink: the image's tree read",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the narration lacks %q:\n%s", want, out.String())
		}
	}
}
