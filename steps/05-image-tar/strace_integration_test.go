package imagetar_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/stracecheck"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// Every syscall line step 5 and the image commands print happened, as
// strace -f saw it (stracecheck compares them).
func TestStraceAgreesWithTheNarration(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	r := stracecheck.Run(t, "--state-dir", state, "step", "5", "--", "/bin/bash", "-c", "ls /")
	if r.Code != 0 || !strings.Contains(r.Stderr, "renameat(") {
		t.Fatalf("step 5 under strace = %d\n%s", r.Code, r.Stderr)
	}
	r = stracecheck.Run(t, "--state-dir", state, "image", "import", filepath.Join(state, "step5", "dockercontainer.tar"), "traced")
	if r.Code != 0 {
		t.Fatalf("image import under strace = %d\n%s", r.Code, r.Stderr)
	}
	// The new image reaches the disk before it is renamed into place.
	commit := regexp.MustCompile(`renameat\(AT_FDCWD, "[^"]*/images/\.new-[0-9a-f]+", AT_FDCWD, "[^"]*/images/[0-9a-f]{64}"\) = 0`)
	synced, committed := strings.Index(r.Stderr, "syncfs("), commit.FindStringIndex(r.Stderr)
	if synced < 0 || committed == nil || synced > committed[0] {
		t.Errorf("the import does not syncfs the new image before it renames it into place:\n%s", r.Stderr)
	}
	out := filepath.Join(t.TempDir(), "traced.tar.gz")
	if r = stracecheck.Run(t, "--state-dir", state, "image", "export", "traced", out); r.Code != 0 {
		t.Fatalf("image export under strace = %d\n%s", r.Code, r.Stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}
