package mountopt

import "testing"

func TestOverlayPath(t *testing.T) {
	for in, want := range map[string]string{
		"/var/lib/workshop/images/x/rootfs": "/var/lib/workshop/images/x/rootfs",
		"/tmp/a,b/st":                       `/tmp/a\,b/st`,
		"/tmp/a:b":                          `/tmp/a\:b`,
		`/tmp/back\slash`:                   `/tmp/back\\slash`,
		"/tmp/with space":                   "/tmp/with space",
	} {
		if got := OverlayPath(in); got != want {
			t.Errorf("OverlayPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/plain`:            "/plain",
		`/a\040b`:           "/a b",
		`/a\134040b`:        `/a\040b`,  // an escaped backslash, then digits
		`/tail\04`:          `/tail\04`, // too short to be an escape
		`/not\089`:          `/not\089`, // 8 and 9 are not octal
		`\011\012\040\134`:  "\t\n \\",
		`/ends\with\slash\`: `/ends\with\slash\`,
		`/x\134y`:           `/x\y`,
		`/bad\09`:           `/bad\09`,
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
