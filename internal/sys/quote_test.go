package sys

import (
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, a tab\tand ünïcode":          "plain text, a tab\tand ünïcode",
		"x\x1b[31mRED\x1b[0m\nworkshop: forged\r": `x\x1b[31mRED\x1b[0m\nworkshop: forged\r`,
		"nul\x00 del\x7f c1\u0085 bad\xff":        `nul\x00 del\x7f c1\x85 bad\xff`,
		"a loader's stderr: no such file\n":       "a loader's stderr: no such file",
		"invoice\u202efdp.exe a\u200bb c\u2028d":  `invoice\u202efdp.exe a\u200bb c\u2028d`,
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// A note names what a root or an archive holds: it is printed on one line,
// with no escape sequence reaching the terminal.
func TestNoteIsOneLine(t *testing.T) {
	var buf strings.Builder
	New(&buf, Options{}).Note("in the way: %s", "/evil\nworkshop: forged line \x1b[31mRED")
	if got := buf.String(); strings.Count(got, "\n") != 1 || strings.Contains(got, "\x1b") {
		t.Errorf("the note printed %q, want one line without ESC", got)
	}
}

// Errnos by strace's names: 95 is EOPNOTSUPP there (Go says ENOTSUP).
func TestErrnoNamesAreStraces(t *testing.T) {
	for e, want := range map[unix.Errno]string{unix.EOPNOTSUPP: "EOPNOTSUPP", unix.ENOENT: "ENOENT", unix.EAGAIN: "EAGAIN", unix.Errno(4000): "E4000"} {
		if got := errnoName(e); got != want {
			t.Errorf("errnoName(%d) = %q, want %q", int(e), got, want)
		}
	}
}

// A narrated path is quoted as strace quotes it: a directory named with an
// ESC and a newline prints on one line, both spelled out. Were quote to
// wrap the bytes in double quotes as they are, a name could move the
// terminal's cursor or forge a line of narration.
func TestNarratedPathIsEscaped(t *testing.T) {
	var buf strings.Builder
	dir := t.TempDir()
	path := filepath.Join(dir, "a\x1b[31m\nb")
	if err := New(&buf, Options{}).Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	want := `mkdirat(AT_FDCWD, "` + dir + `/a\x1b[31m\nb", 0755) = 0` + "\n"
	if got != want || strings.Contains(got, "\x1b") {
		t.Errorf("Mkdir narrated %q, want %q", got, want)
	}
}
