package sys

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Flags as strace prints them: the names of the bits set, a leftover bit
// in hex (so that none is hidden), and 0 for none at all (not an empty
// field: "mount(..., , ...)"). Clone's low byte is the exit signal, not a
// flag: clone with only SIGCHLD is "SIGCHLD", not "0|SIGCHLD".
func TestFlagStrings(t *testing.T) {
	for _, tc := range []struct {
		call, got, want string
	}{
		{`flagString(unix.MS_BIND|unix.MS_REC, mountFlags)`, flagString(unix.MS_BIND|unix.MS_REC, mountFlags), "MS_BIND|MS_REC"},
		{`flagString(unix.MS_BIND|1<<30, mountFlags)`, flagString(unix.MS_BIND|1<<30, mountFlags), "MS_BIND|0x40000000"},
		{`flagString(1<<30, mountFlags)`, flagString(1<<30, mountFlags), "0x40000000"},
		{`flagString(0, mountFlags)`, flagString(0, mountFlags), "0"},
		{`flagString(0, umountFlags)`, flagString(0, umountFlags), "0"},
		{`openFlagString(unix.O_RDONLY)`, openFlagString(unix.O_RDONLY), "O_RDONLY"},
		{`CloneFlagString(uintptr(unix.SIGCHLD))`, CloneFlagString(uintptr(unix.SIGCHLD)), "SIGCHLD"},
		{`CloneFlagString(unix.CLONE_NEWUSER)`, CloneFlagString(unix.CLONE_NEWUSER), "CLONE_NEWUSER"},
		{`CloneFlagString(unix.CLONE_NEWPID | uintptr(unix.SIGCHLD))`, CloneFlagString(unix.CLONE_NEWPID | uintptr(unix.SIGCHLD)), "CLONE_NEWPID|SIGCHLD"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.call, tc.got, tc.want)
		}
	}
}

// A written buffer is cut after 32 bytes, as strace cuts it: one of 32
// is shown whole, with no "..." saying something was left out; one of 33
// loses its last byte to the "...".
func TestDataStringCut(t *testing.T) {
	b32 := strings.Repeat("a", 32)
	if got, want := dataString([]byte(b32)), `"`+b32+`"`; got != want {
		t.Errorf("dataString(32 bytes) = %s, want %s", got, want)
	}
	if got, want := dataString([]byte(b32+"b")), `"`+b32+`"...`; got != want {
		t.Errorf("dataString(33 bytes) = %s, want %s", got, want)
	}
}
