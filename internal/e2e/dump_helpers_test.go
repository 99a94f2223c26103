package e2e

import (
	"bytes"
	"crypto/rand"
	"debug/elf"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/arca-secrets/arca/internal/testenv"
)

// dumpHits takes a core dump of the live process pid with gdb's gcore (as
// root, which a non-dumpable process still lets through ptrace) and
// returns hits of the secrets in it. gcore leaves out mappings marked
// MADV_DONTDUMP, as the kernel does: those are where Arca keeps its keys
// on purpose.
func dumpHits(t *testing.T, pid int, secrets ...secretForms) []string {
	t.Helper()
	testenv.RequireRoot(t, "gcore attaches to the server with ptrace")
	gcore := testenv.Program(t, "gcore", "gdb")
	prefix := filepath.Join(t.TempDir(), "core")
	out, err := exec.Command(gcore, "-o", prefix, fmt.Sprint(pid)).CombinedOutput()
	if err != nil {
		t.Fatalf("gcore %d: %v\n%s", pid, err, out)
	}
	path := fmt.Sprintf("%s.%d", prefix, pid)
	defer os.Remove(path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("gcore wrote no dump: %v\n%s", err, out)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < 1<<20 {
		t.Fatalf("core dump of %d bytes is too small to be a whole process", fi.Size())
	}
	// Mapped, not read: a Go process's dump is mostly the runtime's
	// reserved, untouched address space (a gigabyte or more of zeros).
	core, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatalf("mapping the dump: %v", err)
	}
	defer func() { _ = syscall.Munmap(core) }()
	return hits(core, secrets...)
}

// secretForms is one secret as the forms it can take in memory: its raw
// bytes and the encodings the API carries it in.
type secretForms struct {
	name  string
	forms map[string][]byte
}

// rawSecret is a secret that travels as itself (a token, a password).
func rawSecret(name, value string) secretForms {
	return secretForms{name: name, forms: map[string][]byte{"raw": []byte(value)}}
}

// binarySecret is a secret that travels base64-encoded (a transit plaintext,
// an unseal key) and may sit in memory raw, base64 or hex.
func binarySecret(name string, value []byte) secretForms {
	return secretForms{name: name, forms: map[string][]byte{
		"raw":    value,
		"base64": []byte(base64.StdEncoding.EncodeToString(value)),
		"hex":    []byte(hex.EncodeToString(value)),
	}}
}

// hits counts each form of each secret in the dump and describes every
// hit with the bytes around it, so a failure says where the copy lives.
func hits(core []byte, secrets ...secretForms) []string {
	var found []string
	for _, s := range secrets {
		for form, needle := range s.forms {
			rest, base := core, 0
			for {
				i := bytes.Index(rest, needle)
				if i < 0 {
					break
				}
				at := base + i
				lo, hi := max(0, at-96), min(len(core), at+len(needle)+96)
				found = append(found, fmt.Sprintf("%s (%s) at %s: %q", s.name, form, coreAddress(core, at), printable(core[lo:hi])))
				rest, base = rest[i+len(needle):], at+len(needle)
			}
		}
	}
	return found
}

// coreAddress names the process's virtual address of a byte of the dump,
// so a hit can be matched with the heap or a mapping.
func coreAddress(core []byte, off int) string {
	f, err := elf.NewFile(bytes.NewReader(core))
	if err != nil {
		return fmt.Sprintf("file offset %#x", off)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && uint64(off) >= p.Off && uint64(off) < p.Off+p.Filesz {
			return fmt.Sprintf("%#x", p.Vaddr+uint64(off)-p.Off)
		}
	}
	return fmt.Sprintf("file offset %#x", off)
}

// printable shows bytes with everything outside ASCII letters, digits and
// punctuation as a dot.
func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 0x20 && c < 0x7f {
			out[i] = c
		} else {
			out[i] = '.'
		}
	}
	return string(out)
}

// randomText is a printable value that cannot occur by chance.
func randomText(prefix string) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b)
}

// churn sends n requests as token to path (GET) over one keep-alive
// client, the way a busy server sees other clients between a secret's
// use and a dump.
func churn(t *testing.T, addr, token, path string, n int) {
	t.Helper()
	client := &http.Client{}
	defer client.CloseIdleConnections()
	for i := 0; i < n; i++ {
		req, err := http.NewRequest("GET", "http://"+addr+"/v1/"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Vault-Token", token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("churn request %d to %s: %d", i, path, resp.StatusCode)
		}
	}
}

// failOnHits fails the test listing every hit.
func failOnHits(t *testing.T, what string, found []string) {
	t.Helper()
	if len(found) > 0 {
		t.Errorf("%s: %d copies left in memory:\n%s", what, len(found), strings.Join(found, "\n"))
	}
}
