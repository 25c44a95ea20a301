package container

import (
	"crypto/rand"
	"math/big"
)

// Names a container gets when the student gives none, as Docker names them
// (adjective_noun), from the vocabulary of this workshop.
var (
	adjectives = []string{"brave", "calm", "clever", "eager", "gentle", "happy", "jolly", "keen", "lucky", "merry", "nimble", "proud", "quiet", "swift", "tidy", "witty"}
	nouns      = []string{"chroot", "clone", "cgroup", "execve", "inode", "kernel", "mount", "overlay", "pivot", "proc", "socket", "syscall", "tarball", "uid", "unshare", "zombie"}
)

// NewName returns a name such as "nimble_pivot".
func NewName() string { return pick(adjectives) + "_" + pick(nouns) }

func pick(words []string) string {
	i, err := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
	if err != nil {
		return words[0]
	}
	return words[i.Int64()]
}
