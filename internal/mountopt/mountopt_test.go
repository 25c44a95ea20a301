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
