package lab

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

func TestLab1ByHand(t *testing.T) {
	testbin.NeedRoot(t)
	busybox := testbin.NeedTool(t, "busybox")
	dir := t.TempDir()

	r, _ := Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if r.Done() || !strings.Contains(findingsText(r), "mkdir my-new-root") {
		t.Fatalf("no root: report\n%s", findingsText(r))
	}

	// The usual mistake: a dynamic program instead of a static one.
	sh(t, dir, "mkdir -p my-new-root/bin && cp /bin/ls my-new-root/bin/")
	r, _ = Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if r.Done() || !strings.Contains(findingsText(r), "needs its libraries") {
		t.Fatalf("ls instead of busybox: report\n%s", findingsText(r))
	}

	// Another: a symlink to the host's busybox, which the jail cannot follow.
	sh(t, dir, "ln -s "+busybox+" my-new-root/bin/busybox")
	r, _ = Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "is a symlink") || !strings.Contains(text, "copy the file itself") {
		t.Fatalf("symlinked busybox: report\n%s", text)
	}
	// Its hint, pasted, works: a cp onto the link alone would follow it
	// and fail ("are the same file"), or write the host's file.
	m := regexp.MustCompile(`\((rm my-new-root/bin/busybox; cp /bin/busybox my-new-root/bin/)\)`).FindStringSubmatch(findingsText(r))
	if m == nil {
		t.Fatalf("symlinked busybox: no command to paste in the report\n%s", findingsText(r))
	}
	sh(t, dir, m[1])
	if r, _ = Check(1, Options{Dir: dir, StateDir: t.TempDir()}); !r.Done() {
		t.Fatalf("after the symlinked busybox's hint %q: report\n%s", m[1], findingsText(r))
	}

	sh(t, dir, "rm my-new-root/bin/busybox && cp "+busybox+" my-new-root/bin/ && chmod -x my-new-root/bin/busybox")
	r, _ = Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if r.Done() || !strings.Contains(findingsText(r), "chmod +x") {
		t.Fatalf("busybox not executable: report\n%s", findingsText(r))
	}

	// Not a program at all: said in the kernel's words, not os/exec's.
	sh(t, dir, "mv my-new-root/bin/busybox bb.real && echo not a program > my-new-root/bin/busybox && chmod +x my-new-root/bin/busybox")
	r, _ = Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, `execve("/bin/busybox") inside the root failed: exec format error`) || strings.Contains(text, "fork/exec") {
		t.Fatalf("busybox that is no program: report\n%s", text)
	}
	sh(t, dir, "mv bb.real my-new-root/bin/busybox")

	sh(t, dir, "chmod +x my-new-root/bin/busybox")
	r, _ = Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if !r.Done() {
		t.Fatalf("the exercise is done, but the check says\n%s", findingsText(r))
	}

	// A symlink that leads to busybox inside the jail works in the jail:
	// the check runs it as chroot does, and passes it.
	sh(t, dir, "mv my-new-root/bin/busybox my-new-root/bin/bb && ln -s bb my-new-root/bin/busybox && chroot my-new-root /bin/busybox true")
	r, _ = Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if !r.Done() || !strings.Contains(findingsText(r), "is a symlink to bb") {
		t.Fatalf("busybox as a symlink to bb inside the jail works, but the check says\n%s", findingsText(r))
	}
}

// A directory named busybox (mkdir -p my-new-root/bin/busybox, then cp
// into it) is said to be a directory, not "not executable".
func TestLab1BusyboxDirectory(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	sh(t, dir, "mkdir -p my-new-root/bin/busybox")
	r, _ := Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "my-new-root/bin/busybox is a directory") || strings.Contains(text, "chmod") {
		t.Errorf("bin/busybox a directory: report\n%s", text)
	}
}

// Under a umask of 077 the exercise, done as written, makes a root others
// may not enter: the student's sudo chroot works, the check's program, an
// unprivileged user, does not. The hint says so and how to open it (it
// said chmod +x, which changes nothing there); the same for lab 2's root.
func TestLabsUnderAStrictUmask(t *testing.T) {
	testbin.NeedRoot(t)
	busybox := testbin.NeedTool(t, "busybox")
	dir := t.TempDir()
	testbin.Chmod(t, 0o755, dir)
	sh(t, dir, "umask 077 && mkdir -p my-new-root/bin && cp "+busybox+" my-new-root/bin/")
	r, _ := Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "others may not enter my-new-root (a directory of mode 0700), made under a umask of 077 perhaps: open the root") || !strings.Contains(text, "chmod -R a+rX my-new-root") {
		t.Fatalf("lab 1 under umask 077: report\n%s", text)
	}
	sh(t, dir, "chmod -R a+rX my-new-root")
	if r, _ := Check(1, Options{Dir: dir, StateDir: t.TempDir()}); !r.Done() {
		t.Errorf("lab 1 after chmod -R a+rX: report\n%s", findingsText(r))
	}

	// Lab 2: the libraries, 0600 where cp made them under 077.
	sh(t, dir, "rm -rf my-new-root")
	sh(t, dir, `umask 077 && mkdir -p my-new-root/bin && cp /bin/ls my-new-root/bin/ && for f in $(ldd /bin/ls | grep -o '/[^ ]*'); do cp --parents "$f" my-new-root/; done && chmod 755 my-new-root my-new-root/bin && find my-new-root -type d -exec chmod 755 {} +`)
	r, _ = Check(2, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "others may neither read nor run my-new-root/bin/ls (a file of mode 0700)") || !strings.Contains(text, "chmod -R a+rX my-new-root") {
		t.Fatalf("lab 2 with 0600 libraries: report\n%s", text)
	}
	sh(t, dir, "chmod -R a+rX my-new-root")
	if r, _ := Check(2, Options{Dir: dir, StateDir: t.TempDir()}); !r.Done() {
		t.Errorf("lab 2 after chmod -R a+rX: report\n%s", findingsText(r))
	}
}

// my-new-root as a symlink to the host's / passed labs 1 and 2 with the
// host's own programs: a symlink is not the root made by hand.
func TestLabsRefuseASymlinkedRoot(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	sh(t, dir, "ln -s / my-new-root")
	for _, n := range []int{1, 2} {
		r, _ := Check(n, Options{Dir: dir, StateDir: t.TempDir()})
		if text := findingsText(r); r.Done() || !strings.Contains(text, "my-new-root is a symlink (to /)") {
			t.Errorf("lab %d with my-new-root -> /: report\n%s", n, text)
		}
	}
}

// cp /bin/busybox my-new-root/bin with no bin/ made first: bin is busybox
// itself, and the hint says so (it said to copy it to my-new-root/bin/).
func TestLab1BinIsAFile(t *testing.T) {
	testbin.NeedRoot(t)
	busybox := testbin.NeedTool(t, "busybox")
	dir := t.TempDir()
	sh(t, dir, "mkdir my-new-root && cp "+busybox+" my-new-root/bin")
	r, _ := Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "my-new-root/bin is a file, not a directory") {
		t.Errorf("bin copied as a file: report\n%s", text)
	}
}

// my-new-root itself a file (touch my-new-root): the hint is not the mkdir
// that would fail with "File exists".
func TestLab1RootIsAFile(t *testing.T) {
	dir := t.TempDir()
	sh(t, dir, "touch my-new-root")
	r, _ := Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	text := findingsText(r)
	if r.Done() || !strings.Contains(text, "my-new-root in "+dir+" is a file, not a directory") || !strings.Contains(text, "mv my-new-root my-new-root.old; mkdir my-new-root") ||
		// Checking needs root: the way to the solution says sudo, as
		// every other command of the labs does.
		!strings.Contains(text, "Stuck? 'sudo workshop lab 1 check --solution'") {
		t.Errorf("my-new-root a file: report\n%s", text)
	}
}

// Where the host's /bin is a symlink, a my-new-root/bin that links to
// /usr/bin passed for busybox there: the host's. Inside the jail it leads
// to my-new-root/usr/bin, and the check says so.
func TestLab1BinLinksOutOfTheRoot(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	sh(t, dir, "mkdir my-new-root && ln -s /usr/bin my-new-root/bin")
	r, _ := Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || strings.Contains(text, "busybox is there") ||
		!strings.Contains(text, "my-new-root/bin is a symlink to /usr/bin, which leads to nothing inside my-new-root") {
		t.Errorf("bin -> /usr/bin: report\n%s", text)
	}
	// Where it leads inside the root is there, without busybox: the hint
	// names that place, never a copy through the link (cp into
	// my-new-root/bin/ wrote into the host's /usr/bin).
	sh(t, dir, "mkdir -p my-new-root/usr/bin")
	r, _ = Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "inside the jail it leads to my-new-root/usr/bin, so copy busybox there (cp /bin/busybox my-new-root/usr/bin/); a copy into my-new-root/bin/ would follow the link on the host, to the host's own /usr/bin") {
		t.Errorf("bin -> /usr/bin, my-new-root/usr/bin empty: report\n%s", text)
	}
	// Where it leads inside the root holds busybox: it runs, and passes.
	busybox := testbin.NeedTool(t, "busybox")
	sh(t, dir, "mkdir -p my-new-root/usr/bin && cp "+busybox+" my-new-root/usr/bin/busybox")
	if r, _ := Check(1, Options{Dir: dir, StateDir: t.TempDir()}); !r.Done() {
		t.Errorf("bin -> /usr/bin, busybox in my-new-root/usr/bin: report\n%s", findingsText(r))
	}
}

// busybox copied to my-new-root itself, not to its bin/: the hint says
// where the exercise runs it from.
func TestLab1BusyboxAtTheTop(t *testing.T) {
	testbin.NeedRoot(t)
	busybox := testbin.NeedTool(t, "busybox")
	dir := t.TempDir()
	sh(t, dir, "mkdir my-new-root && cp "+busybox+" my-new-root/")
	r, _ := Check(1, Options{Dir: dir, StateDir: t.TempDir()})
	if text := findingsText(r); r.Done() || !strings.Contains(text, "my-new-root/busybox is there, but the exercise runs it as /bin/busybox") {
		t.Errorf("busybox in my-new-root/: report\n%s", text)
	}
}

// The host's root bind-mounted on my-new-root passed with the host's own
// programs, as a symlink to / did.
func TestLabsRefuseTheHostsRootMounted(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "my-new-root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("/", root, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(root, unix.MNT_DETACH)
	for _, n := range []int{1, 2} {
		r, _ := Check(n, Options{Dir: dir, StateDir: t.TempDir()})
		if text := findingsText(r); r.Done() || !strings.Contains(text, "my-new-root is the host's own root (a bind mount of /)") {
			t.Errorf("lab %d with / mounted on my-new-root: report\n%s", n, text)
		}
	}
}

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
