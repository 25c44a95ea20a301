package imagetar

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// A named file is judged by its first block as a stream is, and a short
// one, or a compressed one, by what it is: a text file, a program or a
// gzipped text file named by mistake got the tar reader's long guess at a
// corrupt first header ("… or a header with an extended (PAX) record it
// cannot be …").
func TestImportSaysAFileIsNoArchive(t *testing.T) {
	dir := t.TempDir()
	gz := func(b []byte) []byte {
		var out bytes.Buffer
		z := gzip.NewWriter(&out)
		z.Write(b)
		z.Close()
		return out.Bytes()
	}
	text := []byte(strings.Repeat("hello, this is not a tar archive\n", 40))
	var tarred bytes.Buffer
	tw := tar.NewWriter(&tarred)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "bin/", Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	for _, c := range []struct {
		name    string
		content []byte
		want    string // "" for an import that works
	}{
		{"notes.txt", text, "import notes.txt: it is no archive: its first 512 bytes are neither a tar header nor the start of a gzip or bzip2 stream"},
		{"short.txt", text[:30], "import short.txt: it is no archive: it has 30 bytes, fewer than one tar header's 512, and they begin no gzip or bzip2 stream"},
		{"one.txt", text[:1], "import one.txt: it is no archive: it has 1 byte, fewer than one tar header's 512"},
		{"notes.txt.gz", gz(text), "import notes.txt.gz: it is no archive: it is a gzip stream, but the first 512 bytes it holds are not a tar header"},
		{"short.txt.gz", gz(text[:30]), "import short.txt.gz: it is no archive: it is a gzip stream of 30 bytes, fewer than one tar header's 512"},
		// A truncated gzip is said truncated by the full read, not
		// taken for a short stream.
		{"cut.tar.gz", gz(tarred.Bytes())[:20], "truncated"},
		{"ok.tar.gz", gz(tarred.Bytes()), ""},
		{"ok.tar", tarred.Bytes(), ""},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.content, 0o644); err != nil {
			t.Fatal(err)
		}
		s := OpenStore(filepath.Join(dir, "store"))
		t.Chdir(dir)
		_, err := s.Import(bg, sys.Discard(), c.name, "x")
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("Import(%s) = %v, want %q", c.name, err, c.want)
		}
	}
}

// A gzipped archive of no entries (the end marker alone, as `tar czf x.tgz
// -T /dev/null` makes) is said to hold no entries, as the same archive
// uncompressed is. Without the look at the zeros inside, it would be "no
// archive: the first 512 bytes it holds are not a tar header", which is
// false: it is a tar, an empty one.
func TestImportOfGzippedZerosSaysNoEntries(t *testing.T) {
	s := OpenStore(t.TempDir())
	tmp := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty.tar", make([]byte, 2*blockSize)},
		{"empty.tar.gz", gzipped(t, make([]byte, 2*blockSize))},
	} {
		_, err := s.Import(bg, sys.Discard(), writeFile(t, tmp, tc.name, tc.data), "x")
		if err == nil || !strings.Contains(err.Error(), "the archive holds no entries") || strings.Contains(err.Error(), "no archive") {
			t.Errorf("Import(%s) = %v, want it said to hold no entries", tc.name, err)
		}
	}
}

// An archive compressed with a tool Go has no reader for is named by its
// compression, with the command that undoes it. Without zstd's magic in
// the list, a .tar.zst (the default of newer distributions' image tools)
// would be "no archive", and the student left to guess why.
func TestImportNamesUnreadableCompressions(t *testing.T) {
	s := OpenStore(t.TempDir())
	tmp := t.TempDir()
	body := bytes.Repeat([]byte{0x5a, 0x01, 0xc3}, 400) // what follows the magic does not matter
	for _, tc := range []struct {
		name  string
		magic []byte
		want  string
	}{
		{"a.tar.zst", []byte{0x28, 0xb5, 0x2f, 0xfd}, "the archive is compressed with zstd, which workshop does not read: decompress it first (zstd -dc ARCHIVE > archive.tar)"},
		{"a.tar.xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, "compressed with xz, which workshop does not read: decompress it first (xz -dc ARCHIVE > archive.tar)"},
		{"a.tar.lz4", []byte{0x04, 0x22, 0x4d, 0x18}, "compressed with lz4, which workshop does not read: decompress it first (lz4 -dc ARCHIVE > archive.tar)"},
	} {
		for _, size := range []int{len(tc.magic) + 4, blockSize + 100} { // shorter than a header, and not
			data := append(append([]byte{}, tc.magic...), body...)[:size]
			_, err := s.Import(bg, sys.Discard(), writeFile(t, tmp, tc.name, data), "x")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Import(%s of %d bytes) = %v\nwant an error with %q", tc.name, size, err, tc.want)
			}
		}
	}
}

// Old tar writers summed the header's bytes as signed chars: for a name
// with a byte over 127 (any non-ASCII name in UTF-8) their checksum is
// smaller than the unsigned sum, and GNU tar and Go's reader take either.
// Without the signed sum, such an archive piped in would be refused at its
// first block as "no archive".
func TestTarChecksumHoldsSignedOrUnsigned(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	mustDo(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/motd", Mode: 0o644, Size: 3, Format: tar.FormatUSTAR}))
	block := append([]byte{}, b.Bytes()[:blockSize]...)
	copy(block, "caf\xc3\xa9") // "café": two bytes over 127
	var unsigned, signed int64
	for i, c := range block {
		if i >= 148 && i < 156 {
			c = ' '
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	if signed == unsigned {
		t.Fatal("the test header sums the same either way")
	}
	for _, tc := range []struct {
		name  string
		field string // the eight bytes at 148
		want  bool
	}{
		{"unsigned sum", fmt.Sprintf("%06o\x00 ", unsigned), true},
		{"signed sum", fmt.Sprintf("%06o\x00 ", signed), true},
		// All eight bytes count as spaces, whatever ends the field.
		{"signed sum, seven digits and a NUL", fmt.Sprintf("%07o\x00", signed), true},
		{"unsigned sum, seven digits and a NUL", fmt.Sprintf("%07o\x00", unsigned), true},
		{"another sum", fmt.Sprintf("%06o\x00 ", unsigned+1), false},
	} {
		h := append([]byte{}, block...)
		copy(h[148:156], tc.field)
		if got := tarChecksumHolds(h); got != tc.want {
			t.Errorf("%s: tarChecksumHolds = %v, want %v", tc.name, got, tc.want)
		}
		if err := headRefusal(h); (err == nil) != tc.want {
			t.Errorf("%s: headRefusal = %v, want a refusal: %v", tc.name, err, !tc.want)
		}
	}
}
