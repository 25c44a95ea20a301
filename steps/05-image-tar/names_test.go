package imagetar

import (
	"bytes"
	"testing"
)

// A top directory is stripped only if something sits below it: an archive
// of box/ alone is a root holding one empty directory, box. Without the
// "below" rule, topDir would say "box", and the stripped import would be an
// empty root, the student's directory gone from it.
func TestTopDirNeedsAnEntryBelowIt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		archive []byte
		want    string
	}{
		{"only a top dir", buildTar(t, dir("box/")), ""},
		{"only a top dir, ./ prefixed", buildTar(t, dir("./"), dir("./box/")), ""},
		{"a top dir and an entry below it", buildTar(t, dir("box/"), dir("box/bin/")), "box"},
	} {
		if got, _, err := topDir(bg, bytes.NewReader(tc.archive)); err != nil || got != tc.want {
			t.Errorf("topDir(%s) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
