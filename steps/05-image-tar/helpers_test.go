package imagetar

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/workshop-dev/workshop/internal/sys"
)

// An entry of a hand-made archive. The tests build every archive in Go,
// entry by entry, so each hostile one reads as the attack it is.
type entry struct {
	typ      byte
	name     string
	link     string // symlink target or hardlink target
	body     string
	mode     int64
	uid, gid int
	mtime    time.Time
	major    int64
	minor    int64
}

func dir(name string) entry { return entry{typ: tar.TypeDir, name: name, mode: 0o755} }
func file(name, body string) entry {
	return entry{typ: tar.TypeReg, name: name, body: body, mode: 0o644}
}
func symlink(name, target string) entry {
	return entry{typ: tar.TypeSymlink, name: name, link: target, mode: 0o777}
}
func hardlink(name, target string) entry {
	return entry{typ: tar.TypeLink, name: name, link: target, mode: 0o644}
}
func chardev(name string, maj, min int64) entry {
	return entry{typ: tar.TypeChar, name: name, mode: 0o666, major: maj, minor: min}
}
func fifo(name string) entry { return entry{typ: tar.TypeFifo, name: name, mode: 0o644} }

func (e entry) withMode(m int64) entry       { e.mode = m; return e }
func (e entry) withOwner(uid, gid int) entry { e.uid, e.gid = uid, gid; return e }
func (e entry) withTime(t time.Time) entry   { e.mtime = t; return e }

// buildTar writes the entries as a tar, exactly as given: names are not
// cleaned, which is the point.
func buildTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	return writeTar(t, false, entries)
}

// writeTar writes the entries; lenient leaves out those Go's tar writer
// cannot encode (a fuzzer makes them), instead of failing.
func writeTar(t testing.TB, lenient bool, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mt := e.mtime
		if mt.IsZero() {
			mt = time.Unix(1700000000, 0)
		}
		hdr := &tar.Header{
			Typeflag: e.typ, Name: e.name, Linkname: e.link, Mode: e.mode,
			Uid: e.uid, Gid: e.gid, ModTime: mt, Devmajor: e.major, Devminor: e.minor,
		}
		if e.typ == tar.TypeReg || e.body != "" {
			hdr.Size = int64(len(e.body)) // any type may carry data: a hostile one does
		}
		err := tw.WriteHeader(hdr)
		if err != nil && lenient {
			continue
		}
		if err != nil {
			t.Fatalf("build archive: header %q: %v", e.name, err)
		}
		if e.body != "" {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatalf("build archive: %q: %v", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	gw.Write(b)
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A scene is where a hostile archive is unpacked: base/dest is the
// destination, base/victim a directory outside it that must not change.
type scene struct {
	base, dest, victim string
	before             map[string]string
}

func newScene(t testing.TB) *scene {
	base := t.TempDir()
	s := &scene{base: base, dest: filepath.Join(base, "dest"), victim: filepath.Join(base, "victim")}
	mustDo(t, os.MkdirAll(filepath.Join(s.victim, "dir"), 0o755))
	mustDo(t, os.WriteFile(filepath.Join(s.victim, "file"), []byte("the host's secret\n"), 0o640))
	mustDo(t, os.WriteFile(filepath.Join(s.victim, "dir", "inner"), []byte("inner\n"), 0o600))
	mustDo(t, os.Symlink("file", filepath.Join(s.victim, "link")))
	old := time.Unix(1500000000, 0)
	for _, p := range []string{"file", "dir/inner", "dir", "."} {
		mustDo(t, os.Chtimes(filepath.Join(s.victim, p), old, old))
	}
	s.before = snapshot(t, s.victim)
	return s
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot records everything an escape could change under dir: each
// name, its type, mode, owner, size, link count, modification and change
// times, contents and symlink target. A new hardlink changes a link count
// and a ctime; a chmod or chown a ctime; a new file its directory's mtime.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("mode=%v uid=%d gid=%d size=%d nlink=%d mtime=%d ctime=%d",
			fi.Mode(), st.Uid, st.Gid, st.Size, st.Nlink, st.Mtim.Nano(), st.Ctim.Nano())
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" data=%q", b)
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			desc += " -> " + l
		}
		rel, _ := filepath.Rel(dir, p)
		m[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return m
}

// check asserts the scene's invariants after an unpack: the victim is as it
// was, and beside it there is the destination (if the unpack succeeded) and
// nothing else: no temporary directory, no stray file.
func (s *scene) check(t testing.TB, unpackErr error) {
	t.Helper()
	after := snapshot(t, s.victim)
	var diffs []string
	for k, v := range s.before {
		if after[k] != v {
			diffs = append(diffs, fmt.Sprintf("  %s: was %s, now %q", k, v, after[k]))
		}
	}
	for k, v := range after {
		if _, ok := s.before[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("  %s: new: %s", k, v))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Errorf("the victim directory outside the destination changed:\n%s", strings.Join(diffs, "\n"))
	}
	names, err := os.ReadDir(s.base)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range names {
		got = append(got, n.Name())
	}
	want := "dest victim"
	if unpackErr != nil {
		want = "victim"
	}
	if strings.Join(got, " ") != want {
		t.Errorf("beside the destination: %q, want %q (unpack error: %v)", got, want, unpackErr)
	}
}

func unpackBytes(s *scene, b []byte, opts UnpackOptions) (Stats, error) {
	return Unpack(context.Background(), sys.Discard(), bytes.NewReader(b), s.dest, opts)
}

func securejoinPath(root, name string) (string, error) { return securejoin.SecureJoin(root, name) }
