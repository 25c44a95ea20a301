package imagetar

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
)

// A stream is judged by its first block, before the rest is read: what
// begins no archive is refused there, whatever follows; what may begin one
// is passed on.
func TestHeadRefusal(t *testing.T) {
	header := func(format tar.Format, name string) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: 3, Format: format}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()[:blockSize]
	}
	long := strings.Repeat("d/", 80) + "file" // a PAX or GNU long name record first
	random := make([]byte, blockSize)
	for i := range random {
		random[i] = byte(i*7 + 13)
	}
	text := []byte(strings.Repeat("root:x:0:0:root:/root:/bin/bash\n", 20))
	for _, c := range []struct {
		name string
		head []byte
		want string // "" for no refusal
	}{
		{"ustar", header(tar.FormatUSTAR, "etc/motd"), ""},
		{"pax", header(tar.FormatPAX, long), ""},
		{"gnu", header(tar.FormatGNU, long), ""},
		{"gzip", append([]byte{0x1f, 0x8b, 8, 0}, random[4:]...), ""},
		{"bzip2", append([]byte("BZh9"), random[4:]...), ""},
		{"a short stream", text[:100], ""},
		{"xz", append([]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, random[6:]...), "compressed with xz"},
		{"text", text, "it is no archive: its first 512 bytes are neither a tar header nor the start of a gzip or bzip2 stream"},
		{"random bytes", random, "it is no archive"},
		{"zeros", make([]byte, blockSize), "the archive holds no entries"},
	} {
		err := headRefusal(c.head)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: headRefusal = %v, want %q", c.name, err, c.want)
		}
	}
}

// An endless standard input that is no archive (/dev/urandom piped in by
// mistake) is refused at its first block: it was saved whole first, and
// the import went on until the filesystem was all but full.
func TestImportFromRefusesAStreamThatBeginsNoArchive(t *testing.T) {
	s := OpenStore(t.TempDir())
	in := &countingReader{r: endlessText{}}
	_, err := s.ImportFrom(bg, sys.Discard(), io.LimitReader(in, 256<<20), "junk")
	if err == nil || !strings.Contains(err.Error(), "import standard input: it is no archive") {
		t.Errorf("ImportFrom of endless text = %v, want a refusal at its first block", err)
	}
	if in.n > 1<<20 {
		t.Errorf("ImportFrom read %d bytes of a stream whose first block begins no archive", in.n)
	}
}

// endlessText reads as the same line, for ever.
type endlessText struct{}

func (endlessText) Read(p []byte) (int, error) {
	line := "not a tar archive\n"
	for i := range p {
		p[i] = line[i%len(line)]
	}
	return len(p), nil
}

// countingReader counts what is read of r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}
