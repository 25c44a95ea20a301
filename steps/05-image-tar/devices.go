package imagetar

import (
	"os"
	"strings"
)

// DevicesAllowed reports whether this process may make device nodes from an
// archive: only real root, in the initial user namespace. There,
// /proc/self/uid_map maps the whole id range onto itself ("0 0 4294967295").
// Inside a user namespace the kernel refuses mknod of devices anyway, and a
// device node in an image is a way to reach host hardware, so anything else
// is refused with a sentence rather than an EPERM from deep inside.
func DevicesAllowed() bool {
	return devicesAllowed(os.Geteuid(), func() ([]byte, error) { return os.ReadFile("/proc/self/uid_map") })
}

// devicesAllowed is DevicesAllowed for a process of effective uid euid
// whose uid_map readMap reads. A user of the initial namespace but root
// sees the same identity map: only the uid tells it apart.
func devicesAllowed(euid int, readMap func() ([]byte, error)) bool {
	if euid != 0 {
		return false
	}
	b, err := readMap()
	if err != nil {
		return false
	}
	return initialUIDMap(string(b))
}

// initialUIDMap reports whether a uid_map is the initial namespace's identity map.
func initialUIDMap(m string) bool {
	lines := strings.Split(strings.TrimSpace(m), "\n")
	if len(lines) != 1 {
		return false
	}
	f := strings.Fields(lines[0])
	return len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295"
}
