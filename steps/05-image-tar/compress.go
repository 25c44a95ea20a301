package imagetar

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/workshop-dev/workshop/internal/units"
)

// Compression is how an archive's bytes are wrapped around the tar.
type Compression string

const (
	Uncompressed Compression = "tar"
	Gzip         Compression = "gzip"
	Bzip2        Compression = "bzip2"
)

// magic numbers at the start of a compressed stream. Only gzip and bzip2 have
// a reader in Go's standard library; the others get a sentence saying so.
var magics = []struct {
	prefix []byte
	name   string
}{
	{[]byte{0x1f, 0x8b}, string(Gzip)},
	{[]byte("BZh"), string(Bzip2)},
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, "xz"},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, "zstd"},
	{[]byte{0x04, 0x22, 0x4d, 0x18}, "lz4"},
}

// Decompress looks at the first bytes of r and returns a reader of the tar
// inside it: tar and tar.gz (and tar.bz2) are recognised by their content,
// not their file name.
func Decompress(r io.Reader) (io.Reader, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, "", err
	}
	if name := magicOf(head); name != "" {
		switch Compression(name) {
		case Gzip:
			gz, err := gzip.NewReader(br)
			if err != nil {
				return nil, "", fmt.Errorf("the gzip header is damaged: %w", err)
			}
			gz.Multistream(false)
			return &gzipMembers{br: br, z: gz}, Gzip, nil
		case Bzip2:
			return bzip2.NewReader(br), Bzip2, nil
		default:
			return nil, "", &UnreadableCompression{Name: name}
		}
	}
	return br, Uncompressed, nil
}

// magicOf is the name of the compression whose magic head begins with, or
// "" for none (a tar, or no archive).
func magicOf(head []byte) string {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.prefix) {
			return m.name
		}
	}
	return ""
}

// UnreadableCompression is Decompress's error for an archive compressed in
// a way Go's standard library has no reader for (xz, zstd, lz4).
type UnreadableCompression struct{ Name string }

func (e *UnreadableCompression) Error() string {
	// -c: "xz -d dockercontainer.tar" refuses a name without its suffix.
	return fmt.Sprintf("the archive is compressed with %s, which workshop does not read: decompress it first (%s -dc ARCHIVE > archive.tar)", e.Name, e.Name)
}

// gzipWanted says whether a file name asks for a gzipped archive.
func gzipWanted(name string) bool {
	name = strings.ToLower(name) // X.TAR.GZ too
	return strings.HasSuffix(name, ".gz") || strings.HasSuffix(name, ".tgz")
}

// gzipMembers reads the members of a gzip stream one after the other, as
// gzip -d does, and takes zeros after the last one for the padding some
// writers add to fill a block (gzip -d and GNU tar accept it, with a
// warning), where Go's own multistream reader takes them for a damaged
// header. Anything else after a member is still damage.
type gzipMembers struct {
	br *bufio.Reader
	z  *gzip.Reader
}

func (g *gzipMembers) Read(p []byte) (int, error) {
	for {
		n, err := g.z.Read(p)
		if err != io.EOF {
			return n, err
		}
		if n > 0 {
			return n, nil // the member's last bytes; its end comes next time
		}
		next, perr := g.br.Peek(2)
		if perr != nil && perr != io.EOF {
			return 0, perr // a read error between two members is no end
		}
		switch {
		case len(next) == 0:
			return 0, io.EOF
		case len(next) == 2 && next[0] == 0x1f && next[1] == 0x8b:
			if err := g.z.Reset(g.br); err != nil {
				return 0, err
			}
			g.z.Multistream(false)
		default:
			return 0, g.zeros()
		}
	}
}

// zeros reads the rest of the stream: io.EOF if it is all zeros, else
// gzip.ErrHeader, as Go's reader says of bytes that begin no member.
func (g *gzipMembers) zeros() error {
	buf := make([]byte, 32<<10)
	for {
		n, err := g.br.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return gzip.ErrHeader
			}
		}
		if err != nil {
			return err // io.EOF: zeros to the end
		}
	}
}

// blockSize is the size of a tar header, and of every tar block.
const blockSize = 512

// headRefusal says why the first block of a stream, head (up to
// blockSize bytes), begins no archive that workshop reads, or is nil where
// it may: the magic of a compressed stream Go reads (gzip, bzip2), or a tar
// header whose checksum holds. A shorter head is left to the full read to
// judge. It lets a stream be refused at its first block (a text file, or
// /dev/urandom, piped in by mistake), not after all of it is saved, which
// for an endless one would never come.
func headRefusal(head []byte) error {
	if name := magicOf(head); name != "" {
		if c := Compression(name); c == Gzip || c == Bzip2 {
			return nil
		}
		return &UnreadableCompression{Name: name}
	}
	if len(head) < blockSize {
		return nil
	}
	if bytes.Count(head[:blockSize], []byte{0}) == blockSize {
		return fmt.Errorf("the archive holds no entries: it begins with a block of zeros, which ends a tar")
	}
	if !tarChecksumHolds(head[:blockSize]) {
		return fmt.Errorf("it is no archive: its first %d bytes are neither a tar header nor the start of a gzip or bzip2 stream", blockSize)
	}
	return nil
}

// wholeHeadRefusal is headRefusal for the first block of an archive read
// whole (a named file, or a stream once saved), which may be all there is:
// a few bytes that begin no compressed stream are no archive either. Empty
// is left to the read, which says the archive holds no entries.
func wholeHeadRefusal(head []byte) error {
	if len(head) == 0 || len(head) >= blockSize || magicOf(head) != "" {
		return headRefusal(head)
	}
	return fmt.Errorf("it is no archive: it has %s, fewer than one tar header's %d, and they begin no gzip or bzip2 stream", units.Count(len(head), "byte", "bytes"), blockSize)
}

// innerHeadRefusal looks inside a compressed archive, read whole from r,
// at the first block of what it holds: a gzipped text file is a gzip
// stream but no tar archive. A stream that cannot be decompressed, or is
// not compressed, is left to the full read.
func innerHeadRefusal(r io.Reader) error {
	dr, c, err := Decompress(r)
	if err != nil || c == Uncompressed {
		return nil
	}
	// Not io.ReadFull: it says io.ErrUnexpectedEOF both for a stream that
	// ended cleanly before a block, and for a truncated one (gzip's own
	// error), which the full read says is truncated.
	head := make([]byte, blockSize)
	k := 0
	for k < blockSize && err == nil {
		var m int
		m, err = dr.Read(head[k:])
		k += m
	}
	switch {
	case err != nil && err != io.EOF:
		return nil
	case k < blockSize:
		return fmt.Errorf("it is no archive: it is a %s stream of %s, fewer than one tar header's %d", c, units.Count(k, "byte", "bytes"), blockSize)
	case bytes.Count(head, []byte{0}) == blockSize:
		return nil // an archive of no entries: the read says so
	case !tarChecksumHolds(head):
		return fmt.Errorf("it is no archive: it is a %s stream, but the first %d bytes it holds are not a tar header", c, blockSize)
	}
	return nil
}

// tarChecksumHolds reports whether block is a tar header by its checksum
// (POSIX ustar, and the GNU and v7 headers before it): the octal number at
// bytes 148 to 155 is the sum of the block's bytes, those eight counted as
// spaces. Old writers summed them as signed bytes: either is taken.
func tarChecksumHolds(block []byte) bool {
	field := strings.Trim(string(block[148:156]), " \x00")
	want, err := strconv.ParseInt(field, 8, 64)
	if field == "" || err != nil {
		return false
	}
	var unsigned, signed int64
	for i, b := range block {
		if i >= 148 && i < 156 {
			b = ' '
		}
		unsigned += int64(b)
		signed += int64(int8(b))
	}
	return want == unsigned || want == signed
}

// headChecked passes what is written on to w, but refuses, with
// headRefusal's error, a stream whose first block begins no archive.
type headChecked struct {
	w       io.Writer
	head    []byte
	checked bool
}

func (h *headChecked) Write(p []byte) (int, error) {
	if !h.checked {
		take := min(blockSize-len(h.head), len(p))
		h.head = append(h.head, p[:take]...)
		if len(h.head) == blockSize {
			h.checked = true
			if err := headRefusal(h.head); err != nil {
				return 0, err
			}
		}
	}
	return h.w.Write(p)
}
