package imagetar

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
)

// A destination holding a single file is refused before the unpack, with
// the sentence that says to remove it. Were one entry let through, the
// whole archive would be unpacked beside it, and only the rename at the end
// would fail, saying the directory "was filled while this unpack ran",
// which is false and sends the student looking for another unpack.
func TestUnpackIntoADirectoryOfOneFileSaysRemoveIt(t *testing.T) {
	full := filepath.Join(t.TempDir(), "full")
	mustDo(t, os.MkdirAll(full, 0o755))
	mustDo(t, os.WriteFile(filepath.Join(full, "keep"), []byte("mine"), 0o644))
	_, err := Unpack(context.Background(), sys.Discard(), bytes.NewReader(buildTar(t, file("x", "x"))), full, UnpackOptions{})
	want := full + " exists and is not empty: unpack makes a fresh root, remove it first or pick another directory"
	if err == nil || err.Error() != want {
		t.Errorf("Unpack into a directory holding one file = %v\nwant %q", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "filled while this unpack ran") {
		t.Errorf("Unpack into a directory holding one file = %v: it was full before the unpack began", err)
	}
	wantFile(t, filepath.Join(full, "keep"), "mine")
	if _, err := os.Lstat(filepath.Join(full, "x")); err == nil {
		t.Errorf("the archive's x was unpacked into the refused destination")
	}
}
