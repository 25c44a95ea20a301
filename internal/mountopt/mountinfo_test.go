package mountopt

import (
	"reflect"
	"strings"
	"testing"
)

// A mount table as this machine's looks, with the kernel's escapes in paths:
// a space (\040), a tab (\011), a newline (\012) and a backslash (\134).
const fixedMountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
25 22 0:23 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
35 22 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
47 22 0:42 / /var/lib/workshop/my\040new\011root\012x\134y rw master:3 propagate_from:1 unbindable - tmpfs my\040source rw
48 47 0:43 / /var/lib/workshop/my\040new\011root\012x\134y rw - tmpfs none
50 22 0:45 / /tmp/named rw,relatime - cgroup  rw,name=x
51 22 0:46 / /tmp/agent rw - cgroup cgroup rw,cpu,release_agent=/x\054memory
`

func TestParseMountinfo(t *testing.T) {
	ms, err := Parse(strings.NewReader(fixedMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{22, 1, "/", "ext4", "/dev/sda1", []string{"rw", "errors=remount-ro"}},
		{25, 22, "/proc", "proc", "proc", []string{"rw"}},
		{35, 22, "/sys/fs/cgroup/memory", "cgroup", "cgroup", []string{"rw", "memory"}},
		{47, 22, "/var/lib/workshop/my new\troot\nx\\y", "tmpfs", "my source", []string{"rw"}},
		{48, 47, "/var/lib/workshop/my new\troot\nx\\y", "tmpfs", "none", nil},
		{50, 22, "/tmp/named", "cgroup", "", []string{"rw", "name=x"}}, // an empty source
		// A comma inside an option's value (\054) does not split it: this
		// hierarchy has cpu, not memory.
		{51, 22, "/tmp/agent", "cgroup", "cgroup", []string{"rw", "cpu", "release_agent=/x,memory"}},
	}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", ms, want)
	}
}

func TestParseMountinfoRefusesBrokenLines(t *testing.T) {
	for _, line := range []string{
		"22 1 8:1 / / rw,relatime shared:1 ext4 /dev/sda1 rw", // no "-"
		"x 1 8:1 / / rw - ext4 /dev/sda1 rw",                  // not an id
		"22 1 8:1 / / rw -",                                   // nothing after "-"
	} {
		if _, err := Parse(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("Parse(%q) = nil error, want one", line)
		}
	}
}

// Lines that lack a field, beyond those of
// TestParseMountinfoRefusesBrokenLines. The kernel writes every field of
// every line: one missing says the text is cut short or not a mountinfo,
// and taking it would hand callers an entry made of the wrong fields (an
// empty filesystem type matches no "overlay" or "cgroup2" they look for,
// and the mount goes unseen, silently).
func TestParseMountinfoRefusesMissingFields(t *testing.T) {
	for _, line := range []string{
		"22 1 8:1 / / - ext4 /dev/sda1 rw", // no mount options (field 6)
		"22 1 8:1 / / rw -  /dev/sda1 rw",  // an empty filesystem type
		"22 1 8:1 / / rw - ext4",           // no source
	} {
		if ms, err := Parse(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("Parse(%q) = %+v, nil error; want one", line, ms)
		}
	}
}
