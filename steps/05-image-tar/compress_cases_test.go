package imagetar

import (
	"archive/tar"
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
)

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
