package state

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// Stragglers names, while a container of step 3 or 5 with no PID namespace
// runs, how to find the processes its command starts: its root and its
// namespaces. The step kills those that outlive the command when it ends
// (as a PID namespace's end would); a step killed with SIGKILL cannot, and
// its marker stays for `workshop clean`, which kills them by it.
type Stragglers struct {
	Root string `json:"root"` // the root it runs chrooted in, absolute
	// Namespaces are the container's, by name ("uts": "uts:[…]"): mnt,
	// uts, ipc, net, user and pid, those the clone made (Own) and those it
	// shares with the host. Every process the command starts is in all of
	// them, whatever its process group (an --init's command has one of its
	// own, a daemon calls setsid); a shell chrooted in the same root by
	// hand is not, unless it made the same set anew, with the same numbers
	// (the kernel gives a freed number out again), once every process of
	// the container had ended.
	Namespaces map[string]string `json:"namespaces"`
	Own        []string          `json:"own,omitempty"`

	path string
}

// StragglersDir is where the markers are kept.
func StragglersDir(stateDir string) string { return filepath.Join(stateDir, "stragglers") }

// TrackStragglers writes s's marker, named by its container's id, until
// Done.
func TrackStragglers(stateDir, id string, s Stragglers) (*Stragglers, error) {
	dir := StragglersDir(stateDir)
	data, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	s.path = filepath.Join(dir, id+".json")
	f, err := createMarker(dir, id+".json.tmp")
	if err != nil {
		return nil, err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), s.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	return &s, nil
}

// Done removes the marker, and its directory if no other is in it: the
// step found and killed what its command left itself. A nil marker is
// none.
func (s *Stragglers) Done() {
	if s != nil && s.path != "" {
		os.Remove(s.path)
		os.Remove(filepath.Dir(s.path)) // fails, as it should, while another is in it
	}
}

// Path is the marker's file.
func (s Stragglers) Path() string { return s.path }

// StaleStragglers reads the markers left in stateDir: those of steps that
// were killed, when no step runs (the caller holds the steps lock
// exclusively). A marker that cannot be read, or one still under its
// temporary name, is returned naming no namespace, to be removed.
func StaleStragglers(stateDir string) []Stragglers {
	dir := StragglersDir(stateDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []Stragglers
	for _, e := range entries {
		complete := strings.HasSuffix(e.Name(), ".json")
		if !complete && !strings.HasSuffix(e.Name(), ".json.tmp") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed since the listing
		}
		s := Stragglers{}
		if err != nil || !complete || json.Unmarshal(data, &s) != nil {
			s = Stragglers{} // names nothing: only removed
		}
		s.path = path
		out = append(out, s)
	}
	return out
}
