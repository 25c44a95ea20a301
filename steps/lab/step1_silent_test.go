package lab

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// A static program that runs, exits 0 and prints nothing, in busybox's
// place, is not busybox: `chroot my-new-root /bin/busybox ls /` prints the
// root's names, and the check wants to see them. Without looking at what
// ls printed, any static program that ignores its arguments (a student's
// hello-world, or /bin/true of a static build) would pass lab 1.
func TestLab1SilentProgramIsNotBusybox(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	sh(t, dir, "mkdir -p my-new-root/bin")
	if err := os.WriteFile(filepath.Join(dir, "my-new-root", "bin", "busybox"), exitZeroELF(t), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if text := findingsText(r); r.Done() || !strings.Contains(text, `busybox ran in the jail but ls / printed ""`) {
		t.Errorf("a silent static program as bin/busybox: report\n%s", text)
	}
}

// exitZeroELF is the smallest static program for this machine's
// architecture: one segment whose code is exit(0). No toolchain is needed
// (the test VMs have none).
func exitZeroELF(t *testing.T) []byte {
	t.Helper()
	var machine elf.Machine
	var code []byte
	switch runtime.GOARCH {
	case "amd64":
		machine = elf.EM_X86_64
		code = []byte{
			0x31, 0xff, // xor edi, edi
			0xb8, 0x3c, 0x00, 0x00, 0x00, // mov eax, 60 (exit)
			0x0f, 0x05, // syscall
		}
	case "arm64":
		machine = elf.EM_AARCH64
		code = []byte{
			0x00, 0x00, 0x80, 0xd2, // mov x0, #0
			0xa8, 0x0b, 0x80, 0xd2, // mov x8, #93 (exit)
			0x01, 0x00, 0x00, 0xd4, // svc #0
		}
	default:
		t.Skipf("no exit(0) program written for %s", runtime.GOARCH)
	}
	const base = 0x400000
	headers := uint64(binary.Size(elf.Header64{}) + binary.Size(elf.Prog64{}))
	size := headers + uint64(len(code))
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Entry: base + headers, Phoff: uint64(binary.Size(elf.Header64{})),
		Ehsize: uint16(binary.Size(elf.Header64{})), Phentsize: uint16(binary.Size(elf.Prog64{})), Phnum: 1,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	p := elf.Prog64{
		Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X),
		Vaddr: base, Paddr: base, Filesz: size, Memsz: size, Align: 0x1000,
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, h)
	binary.Write(&b, binary.LittleEndian, p)
	b.Write(code)
	return b.Bytes()
}
