package imagetar

import (
	"archive/tar"
	"fmt"
	"io"
)

// endMark counts the bytes tar.Reader reads of an archive, to tell its
// end-of-archive marker (blocks of zeros after the last entry) from a
// stream that stops right after an entry. archive/tar answers both with
// io.EOF, but the second is a truncated archive (a download or a copy cut
// at an entry's end), whose missing entries would go unnoticed: tar
// writers (GNU tar, Python's tarfile, Go's, docker export) all write the
// marker.
//
// The block after the last entry must be zeros, not merely be there: a PAX
// header or a GNU long name, which archive/tar reads inside Next and
// never hands over, also comes after an entry, and a stream cut right
// after one ends as quietly.
type endMark struct {
	r        io.Reader
	n        int64 // bytes read so far
	entryEnd int64 // where the last entry's data and padding end
	entries  int
	unknown  bool // a sparse entry, whose stored size is not its Size
	// after is the block at entryEnd, as far as it was read (afterN
	// bytes): the end marker's first block, or the next entry's header.
	after  [512]byte
	afterN int
}

func newEndMark(r io.Reader) *endMark { return &endMark{r: r} }

func (e *endMark) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	start := e.n
	e.n += int64(n)
	// Keep what of the block at entryEnd this read holds.
	from := e.entryEnd + int64(e.afterN)
	if e.afterN < len(e.after) && start <= from && from < e.n {
		e.afterN += copy(e.after[e.afterN:], p[from-start:n])
	}
	return n, err
}

// entry notes a header tar.Reader has just returned: its data, padded to a
// whole block, follows it.
func (e *endMark) entry(hdr *tar.Header) {
	e.entries++
	size := hdr.Size
	// Only a file's data may be stored sparse (archive/tar refuses a
	// sparse map on any other type): a GNU.sparse record on a directory,
	// a link or a global header changes no size, and must not turn the
	// check off; nor may a sparse file before the last entry.
	e.unknown = false
	switch hdr.Typeflag {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo, tar.TypeXGlobalHeader:
		size = 0 // archive/tar reads no data for these, whatever Size says
	case tar.TypeReg, tar.TypeGNUSparse:
		e.unknown = Sparse(hdr)
	}
	e.entryEnd = e.n + (size+511)/512*512
	e.afterN = 0
}

// atEnd, once tar.Reader has said io.EOF, reads the stream to its end
// (gzip checks its CRC only there, and a flipped byte inside a file's data
// is found only then: past what tar read, so not counted), then checks the
// end-of-archive marker.
func (e *endMark) atEnd(last string) error {
	if _, err := io.Copy(io.Discard, e.r); err != nil {
		return endError(err)
	}
	return e.check(last)
}

// check is an ArchiveError if no block of the end-of-archive marker
// followed the last entry, last ("" before the first). An empty stream
// is an archive of nothing.
func (e *endMark) check(last string) error {
	if e.unknown || e.n == 0 || e.afterN == len(e.after) && e.after == [512]byte{} {
		return nil
	}
	if e.entries == 0 {
		return &ArchiveError{Reason: "is truncated", Where: "before its first entry",
			Err: fmt.Errorf("it stops after a header that announces an entry (a long name, or extended attributes), without the entry: entries are missing")}
	}
	return &ArchiveError{Reason: "is truncated", Where: "after entry " + quoteShort(last),
		Err: fmt.Errorf("it stops after that entry, without the blocks of zeros that end every tar archive: entries may be missing")}
}
