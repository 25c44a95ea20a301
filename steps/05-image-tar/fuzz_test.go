package imagetar

import (
	"archive/tar"
	"bytes"
	"testing"
)

// FuzzUnpack unpacks arbitrary bytes next to a victim directory. Whatever
// the bytes, the unpack succeeds or fails with an error, the victim is left
// exactly as it was, and nothing but the destination (on success) is left
// beside it. `go test` runs the seeds; `go test -fuzz FuzzUnpack
// ./steps/05-image-tar/` searches further.
//
// The seeds are the hostile archives of TestBreakouts, built against a
// victim path that does not exist (the fuzz victim's path changes each run,
// so the absolute-path cases only exercise the code; the "../victim" cases
// aim at the real victim), plus broken and gzipped ones.
func FuzzUnpack(f *testing.F) {
	const nowhere = "/nonexistent-workshop-victim"
	for _, bc := range breakouts {
		f.Add(buildTar(f, bc.entries(nowhere)...))
	}
	good := buildTar(f, dir("./"), dir("./bin/"), file("./bin/bash", "#!bash"), symlink("./bin/sh", "bash"), hardlink("./bin/rbash", "./bin/bash"))
	f.Add(good)
	f.Add(gzipped(f, good))
	f.Add(good[:700])
	f.Add(gzipped(f, buildTar(f, symlink("up", "../victim"), file("up/evil", "x"))))
	f.Add([]byte{})
	f.Add([]byte("not a tar"))
	f.Add(sparseSeed(f))

	f.Fuzz(func(t *testing.T, data []byte) {
		s := newScene(t)
		_, err := unpackBytes(s, data, UnpackOptions{})
		s.check(t, err)
	})
}

// sparseSeed is an archive with an old-GNU sparse entry, so the fuzzer
// starts from the sparse code path too.
func sparseSeed(f *testing.F) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "sparse", Size: 4, Mode: 0o644,
		PAXRecords: map[string]string{"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "sparse", "GNU.sparse.realsize": "1099511627776"}}
	if err := tw.WriteHeader(hdr); err != nil {
		f.Fatal(err)
	}
	tw.Write([]byte("data"))
	tw.Close()
	return buf.Bytes()
}

// FuzzUnpackEntries fuzzes the structure rather than the bytes: each input
// is read as a list of entries whose types, names and link targets are
// drawn from the pieces breakouts are made of ("..", "/", the victim's
// absolute path, names reused across entries), so the fuzzer spends its
// time on symlink and hardlink games instead of on tar checksums.
func FuzzUnpackEntries(f *testing.F) {
	f.Add([]byte{2, 0x24, 2, 0x61, 1, 0x25, 0x30})                      // symlink then a file through it
	f.Add([]byte{0, 0x10, 2, 0x10, 0x52, 1, 0x13, 0x30, 3, 0x11, 0x20}) // dir, replaced, written through
	f.Add([]byte{3, 0x01, 0x62, 2, 0x61, 0x57, 1, 0x61, 0x07})
	f.Fuzz(func(t *testing.T, program []byte) {
		s := newScene(t)
		entries := decodeEntries(program, s.victim)
		_, err := unpackBytes(s, writeTar(t, true, entries), UnpackOptions{})
		s.check(t, err)
	})
}

// decodeEntries turns bytes into at most 12 entries: a type byte, then a
// path byte (and a target byte for links). A path byte picks up to three
// pieces from the dictionary below.
func decodeEntries(b []byte, victim string) []entry {
	pieces := []string{"a", "b", "..", ".", "victim", "", victim, "/"}
	pathOf := func(c byte) string {
		p := pieces[c&7]
		if c&0x08 != 0 {
			p += "/" + pieces[(c>>4)&7]
		}
		if c&0x80 != 0 {
			p += "/" + pieces[(c>>1)&7]
		}
		return p
	}
	var out []entry
	for i := 0; i+1 < len(b) && len(out) < 12; {
		typ, name := b[i]%6, pathOf(b[i+1])
		i += 2
		target := ""
		if typ == 2 || typ == 3 {
			if i < len(b) {
				target = pathOf(b[i])
				i++
			}
		}
		switch typ {
		case 0:
			out = append(out, dir(name))
		case 1:
			out = append(out, file(name, "evil").withMode(0o777))
		case 2:
			out = append(out, symlink(name, target))
		case 3:
			out = append(out, hardlink(name, target))
		case 4:
			out = append(out, fifo(name))
		case 5:
			out = append(out, dir(name).withMode(0o777).withOwner(4321, 4321))
		}
	}
	return out
}
