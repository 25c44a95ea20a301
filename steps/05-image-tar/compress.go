package imagetar

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
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

// decompress looks at the first bytes of r and returns a reader of the tar
// inside it: tar and tar.gz (and tar.bz2) are recognised by their content,
// not their file name.
func decompress(r io.Reader) (io.Reader, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, "", err
	}
	for _, m := range magics {
		if !bytes.HasPrefix(head, m.prefix) {
			continue
		}
		switch Compression(m.name) {
		case Gzip:
			gz, err := gzip.NewReader(br)
			if err != nil {
				return nil, "", fmt.Errorf("the gzip header is damaged: %w", err)
			}
			return gz, Gzip, nil
		case Bzip2:
			return bzip2.NewReader(br), Bzip2, nil
		default:
			return nil, "", fmt.Errorf("the archive is compressed with %s, which workshop does not read: decompress it first (%s -d)", m.name, m.name)
		}
	}
	return br, Uncompressed, nil
}

// gzipWanted says whether a file name asks for a gzipped archive.
func gzipWanted(name string) bool {
	name = strings.ToLower(name) // X.TAR.GZ too
	return strings.HasSuffix(name, ".gz") || strings.HasSuffix(name, ".tgz")
}
