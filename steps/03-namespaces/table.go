package namespaces

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// nsLinks are the entries of /proc/PID/ns shown in the table: the seven of
// --ns and the time namespace, which workshop does not make (clone3 only,
// and a container rarely wants another clock).
var nsLinks = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

// readNamespaces reads /proc/<pid>/ns/*: each link names a namespace by its
// type and inode, "uts:[4026531838]". Two processes share a namespace when
// their links are equal.
func readNamespaces(pid string) (map[string]string, error) {
	m := make(map[string]string, len(nsLinks))
	for _, name := range nsLinks {
		p := "/proc/" + pid + "/ns/" + name
		link, err := os.Readlink(p)
		if err != nil {
			if os.IsNotExist(err) {
				continue // an older kernel without this namespace type
			}
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		m[name] = link
	}
	return m, nil
}

// printTable prints the host's and the container's namespaces side by side,
// marking those that differ.
func printTable(w io.Writer, hostPid int, host map[string]string, containerPid int, container map[string]string) {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "namespace\tworkshop (pid %d)\tcontainer (pid %d)\t\n", hostPid, containerPid)
	for _, name := range nsLinks {
		h, c := host[name], container[name]
		if h == "" && c == "" {
			continue
		}
		mark := "same"
		if h != c {
			mark = "NEW"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, h, c, mark)
	}
	tw.Flush()
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}
