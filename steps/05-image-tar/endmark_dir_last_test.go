package imagetar

import (
	"bytes"
	"testing"
)

// TestOneEndBlockIsEnough with a directory last: an entry with no data
// ends at its header, and the one block of zeros right after it is the
// end marker. Were a size of 0 rounded up to a whole block, the marker
// would be looked for a block later, and a whole archive with one end
// block (as some writers make) refused as truncated.
func TestOneEndBlockIsEnoughAfterADirectory(t *testing.T) {
	good := buildTar(t, file("a", "a"), dir("bin/"))
	if !bytes.Equal(good[len(good)-1024:], make([]byte, 1024)) {
		t.Fatal("the test archive does not end with two blocks of zeros")
	}
	s := newScene(t)
	_, err := unpackBytes(s, good[:len(good)-512], UnpackOptions{})
	s.check(t, err)
	if err != nil {
		t.Errorf("Unpack of an archive ending with a directory and one block of zeros = %v, want it whole", err)
	}
	if _, _, err := topDir(bg, bytes.NewReader(good[:len(good)-512])); err != nil {
		t.Errorf("topDir of an archive ending with a directory and one block of zeros = %v", err)
	}
}
