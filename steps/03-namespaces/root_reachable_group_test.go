package namespaces

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// When the root is out of reach, the directory blamed is the one that
// closes the way, judged by the bits that apply to the mapped ids: a 0750
// directory of the mapped gid's group lets it in (its group's x), and the
// 0700 root-owned directory below it does not. Judged by the others' bits
// instead, the group's directory would be blamed, and its chmod o+x hint
// would change nothing: the student would run it and meet the same error.
func TestRootReachableBlamesTheDirectoryThatCloses(t *testing.T) {
	testbin.NeedRoot(t) // chown
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	group, closed := filepath.Join(dir, "group"), filepath.Join(dir, "group", "closed")
	root := filepath.Join(closed, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(group, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(group, 0, 100000); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	err := rootReachable(sys.Discard(), root, 100000, 100000)
	if err == nil || !strings.Contains(err.Error(), "may not enter "+closed+" (mode 0700, owner uid 0)") {
		t.Errorf("rootReachable through a 0750 directory of its group, then a 0700 one of root's = %v\nwant %s blamed", err, closed)
	}
}
