package container

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

func TestDiff(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	for _, d := range []string{"etc", "bin", "tmp"} {
		os.MkdirAll(filepath.Join(lower, d), 0o755)
	}
	os.WriteFile(filepath.Join(lower, "etc", "hostname"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(lower, "bin", "gone"), []byte("a"), 0o755)

	os.MkdirAll(filepath.Join(upper, "etc"), 0o755)
	os.WriteFile(filepath.Join(upper, "etc", "hostname"), []byte("b"), 0o644)
	os.MkdirAll(filepath.Join(upper, "new", "sub"), 0o755)
	os.WriteFile(filepath.Join(upper, "new", "sub", "f"), nil, 0o644)
	os.MkdirAll(filepath.Join(upper, "bin"), 0o755)
	if os.Geteuid() == 0 {
		if err := unix.Mknod(filepath.Join(upper, "bin", "gone"), unix.S_IFCHR|0o000, 0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Diff(lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	lines := changeLines(got)
	want := []string{"C /bin", "C /etc", "C /etc/hostname", "A /new", "A /new/sub", "A /new/sub/f"}
	if os.Geteuid() == 0 {
		want = []string{"C /bin", "D /bin/gone", "C /etc", "C /etc/hostname", "A /new", "A /new/sub", "A /new/sub/f"}
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// A container can make a tree deeper than PATH_MAX in its writable layer;
// and where the image has a symlink, an upper directory of that name is
// not compared through it.
func TestDiffDeepTreeAndLowerSymlink(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	mustDo := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// lower: etc/x, and link -> etc (upper replaced it with a directory
	// holding x: x is added, not changed).
	mustDo(os.MkdirAll(filepath.Join(lower, "etc"), 0o755))
	mustDo(os.WriteFile(filepath.Join(lower, "etc", "x"), nil, 0o644))
	mustDo(os.Symlink("etc", filepath.Join(lower, "link")))
	mustDo(os.MkdirAll(filepath.Join(upper, "link"), 0o755))
	mustDo(os.WriteFile(filepath.Join(upper, "link", "x"), nil, 0o644))

	// upper: deep/a/a/…/a, 2200 levels (4400 bytes of path), made relative
	// to each directory in turn.
	mustDo(os.Mkdir(filepath.Join(upper, "deep"), 0o755))
	fd, err := unix.Open(filepath.Join(upper, "deep"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	mustDo(err)
	const depth = 2200
	for i := 0; i < depth; i++ {
		mustDo(unix.Mkdirat(fd, "a", 0o755))
		next, err := unix.Openat(fd, "a", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		mustDo(err)
		unix.Close(fd)
		fd = next
	}
	unix.Close(fd)
	t.Cleanup(func() { exec.Command("rm", "-rf", upper).Run() })

	got, err := Diff(lower, upper)
	if err != nil {
		t.Fatalf("Diff of a tree deeper than PATH_MAX: %v", err)
	}
	deepest := "/deep" + strings.Repeat("/a", depth)
	var lines []string
	for _, c := range got {
		if strings.HasPrefix(c.Path, "/deep") && c.Path != deepest && c.Path != "/deep" {
			continue
		}
		lines = append(lines, c.String())
	}
	want := []string{"A /deep", "A " + deepest, "C /link", "A /link/x"}
	if len(got) != depth+3 || strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Diff = %d changes, among them\n%s\nwant %d, among them\n%s", len(got), strings.Join(lines, "\n"), depth+3, strings.Join(want, "\n"))
	}
}

// A tree too deep to list (its names past maxListed bytes, here lowered
// to 1 MB: the 2200 levels make 4.8 MB) is refused with a sentence, where
// diff gathered gigabytes of names for a deeper one.
func TestDiffOfATreeTooDeepToList(t *testing.T) {
	defer func(was int) { maxListed = was }(maxListed)
	maxListed = 1 << 20
	lower, upper := t.TempDir(), t.TempDir()
	fd, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2200; i++ {
		if err := unix.Mkdirat(fd, "a", 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "a", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		fd = next
	}
	unix.Close(fd)
	t.Cleanup(func() { exec.Command("rm", "-rf", upper).Run() })

	_, err = Diff(lower, upper)
	if err == nil || !strings.Contains(err.Error(), "it holds more changes than diff lists: their names pass 1.0 MB") || !strings.Contains(err.Error(), "/a/a/a…") {
		t.Errorf("Diff of a tree whose names pass the bound = %v", err)
	}
}

// A directory of the image removed and made again is opaque in the upper
// layer: what the image had in it is deleted, though no whiteout says so.
// A file in place of a directory of the image hides all of it.
func TestDiffOpaqueAndReplacedDirectories(t *testing.T) {
	testbin.NeedRoot(t) // trusted.* xattrs
	lower, upper := t.TempDir(), t.TempDir()
	for _, p := range []string{"data/sub", "keepdir"} {
		os.MkdirAll(filepath.Join(lower, p), 0o755)
	}
	for _, p := range []string{"data/a", "data/sub/b", "keepdir/k1", "keepdir/k2"} {
		os.WriteFile(filepath.Join(lower, p), nil, 0o644)
	}
	os.Mkdir(filepath.Join(upper, "data"), 0o755)
	if err := unix.Setxattr(filepath.Join(upper, "data"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(upper, "data", "a2"), nil, 0o644)
	os.WriteFile(filepath.Join(upper, "keepdir"), nil, 0o644)
	got, err := Diff(lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	lines := changeLines(got)
	want := []string{"C /data", "D /data/a", "A /data/a2", "D /data/sub", "C /keepdir", "D /keepdir/k1", "D /keepdir/k2"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// A name that could break or fake a line of the diff is quoted.
func TestChangeQuotesOddNames(t *testing.T) {
	for path, want := range map[string]string{
		"/etc/hostname":       "A /etc/hostname",
		"/a name with spaces": "A /a name with spaces",
		"/x\nD /etc/passwd":   `A "/x\nD /etc/passwd"`,
		"/bad\xff\x1b[31mred": `A "/bad\xff\x1b[31mred"`,
		`/quote"d`:            `A "/quote\"d"`,
		"/é":                  "A /é",
		// Shown raw, it reads "/invoiceexe.pdf".
		"/invoice\u202efdp.exe": `A "/invoice\u202efdp.exe"`,
		"/a\u2028b\u200bc":      `A "/a\u2028b\u200bc"`,
	} {
		if got := (Change{'A', path}).String(); got != want {
			t.Errorf("Change %q = %s, want %s", path, got, want)
		}
	}
}

// changeLines are the lines diff prints for changes.
func changeLines(changes []Change) []string {
	var lines []string
	for _, c := range changes {
		lines = append(lines, c.String())
	}
	return lines
}

// A diff's walk is of a layer being removed once its run's container has
// ended (its workshop removes the layer in place, then forgets the record):
// then it listed a part, and LayerGone says so. A running container's, a
// starting one's and a kept one's layer is not going.
func TestLayerGone(t *testing.T) {
	stateDir := t.TempDir()
	r := &state.Run{ID: "0123456789ab", Command: []string{"/bin/sh"}}
	if err := state.New(stateDir, r); err != nil {
		t.Fatal(err)
	}
	defer r.LetGo()
	r.Upper = filepath.Join(r.Dir(), "upper")
	if err := os.Mkdir(r.Upper, 0o755); err != nil {
		t.Fatal(err)
	}
	// The container's first process: a child of this test, its workshop.
	child := exec.Command("/bin/sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	save := func(pid int, keep bool) {
		t.Helper()
		r.Pid, r.Keep = pid, keep
		if err := r.Save(); err != nil {
			t.Fatal(err)
		}
	}
	save(0, false)
	if LayerGone(stateDir, r) {
		t.Error("LayerGone() of a starting container (no pid yet) = true")
	}
	save(child.Process.Pid, false)
	if LayerGone(stateDir, r) {
		t.Error("LayerGone() of a running container = true")
	}
	child.Process.Kill()
	child.Wait()
	if !LayerGone(stateDir, r) {
		t.Error("LayerGone() once the container's first process has ended, its workshop alive and removing the layer = false")
	}
	save(child.Process.Pid, true)
	if LayerGone(stateDir, r) {
		t.Error("LayerGone() of a container run with --keep = true: its workshop removes nothing")
	}
	save(child.Process.Pid, false)
	if err := r.Forget(); err != nil {
		t.Fatal(err)
	}
	if !LayerGone(stateDir, r) {
		t.Error("LayerGone() once the record and the layer are gone = false")
	}
}

// The layer a container leaves after `rm -r data; mkdir data; touch
// data/a`, `rm f; mkdir f; touch f/x` (f a file in the image) and `mknod
// /tmp/null c 1 3`. What would go wrong without each part of it:
//   - the opaque data/ keeping the image's entries: data/a, made anew,
//     would read as changed (C), not added;
//   - deletedUnder not sparing what the opaque directory holds again:
//     data/a would also be listed deleted;
//   - an opaque directory over the image's file, f, taken for one over a
//     directory: diff would fail opening the file as a directory;
//   - any character device taken for a whiteout: tmp/null, a device the
//     container made (1:3, not overlayfs's 0:0), would read as deleted.
func TestDiffOpaqueOverFileAndDevicesThatAreNoWhiteout(t *testing.T) {
	testbin.NeedRoot(t) // trusted.* xattrs, mknod
	lower, upper := t.TempDir(), t.TempDir()
	mustDo := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustDo(os.MkdirAll(filepath.Join(lower, "data", "sub"), 0o755))
	mustDo(os.WriteFile(filepath.Join(lower, "data", "a"), []byte("old"), 0o644))
	mustDo(os.WriteFile(filepath.Join(lower, "f"), []byte("a file"), 0o644))
	mustDo(os.Mkdir(filepath.Join(lower, "tmp"), 0o1777))

	for _, d := range []string{"data", "f"} {
		mustDo(os.Mkdir(filepath.Join(upper, d), 0o755))
		mustDo(unix.Setxattr(filepath.Join(upper, d), "trusted.overlay.opaque", []byte("y"), 0))
	}
	mustDo(os.WriteFile(filepath.Join(upper, "data", "a"), []byte("new"), 0o644))
	mustDo(os.WriteFile(filepath.Join(upper, "f", "x"), nil, 0o644))
	mustDo(os.Mkdir(filepath.Join(upper, "tmp"), 0o1777))
	mustDo(unix.Mknod(filepath.Join(upper, "tmp", "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))

	got, err := Diff(lower, upper)
	if err != nil {
		t.Fatalf("Diff = %v", err)
	}
	want := []string{"C /data", "A /data/a", "D /data/sub", "C /f", "A /f/x", "C /tmp", "A /tmp/null"}
	if lines := changeLines(got); strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
