package attest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Constants of the kernel's sock_diag interface for UNIX sockets
// (linux/sock_diag.h, linux/unix_diag.h).
const (
	sockDiagByFamily = 20
	udiagShowPeer    = 0x4
	unixDiagPeer     = 2
)

// localInode is the inode of the agent's end of the connection.
func localInode(conn *net.UnixConn) (uint64, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		return 0, err
	}
	return st.Ino, serr
}

// peerInode asks the kernel (sock_diag) for the inode of the caller's end
// of the connection whose agent end is ino.
func peerInode(ino uint64) (uint64, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(fd)
	req := make([]byte, 16+24)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], sockDiagByFamily)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(req[8:], 1)
	req[16] = unix.AF_UNIX
	binary.NativeEndian.PutUint32(req[20:], 0xffffffff) // every state
	binary.NativeEndian.PutUint32(req[24:], uint32(ino))
	binary.NativeEndian.PutUint32(req[28:], udiagShowPeer)
	binary.NativeEndian.PutUint32(req[32:], 0xffffffff) // no cookie
	binary.NativeEndian.PutUint32(req[36:], 0xffffffff)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	buf := make([]byte, 8192)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Type == unix.NLMSG_ERROR {
			if len(m.Data) >= 4 {
				if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
					return 0, fmt.Errorf("sock_diag: %w", syscall.Errno(-errno))
				}
			}
			continue
		}
		// unix_diag_msg is 16 bytes; attributes follow.
		attrs := m.Data
		if len(attrs) < 16 {
			continue
		}
		attrs = attrs[16:]
		for len(attrs) >= 4 {
			l := int(binary.NativeEndian.Uint16(attrs[0:]))
			typ := binary.NativeEndian.Uint16(attrs[2:])
			if l < 4 || l > len(attrs) {
				break
			}
			if typ == unixDiagPeer && l >= 8 {
				return uint64(binary.NativeEndian.Uint32(attrs[4:])), nil
			}
			attrs = attrs[(l+3)&^3:]
		}
	}
	return 0, fmt.Errorf("sock_diag: the kernel did not name the connection's peer")
}

// holdsSocket says whether /proc/<pid>/fd has a descriptor whose link is
// target.
func holdsSocket(procFD int, pid, buf, link, target []byte) (bool, error) {
	dir, err := unix.Openat(procFD, string(pid)+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(dir)
	found := false
	err = eachDirent(dir, buf, func(name []byte) error {
		if found || name[0] == '.' {
			return nil
		}
		n, err := unix.Readlinkat(dir, string(name), link)
		if err == nil && n == len(target) && string(link[:n]) == string(target) {
			found = true
		}
		return nil
	})
	return found, err
}

// eachDirent calls f with the name of every entry of the open directory
// fd (name is only valid during the call).
func eachDirent(fd int, buf []byte, f func(name []byte) error) error {
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		for rest := buf[:n]; len(rest) > 0; {
			// struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
			if len(rest) < 19 {
				return errors.New("short directory entry")
			}
			reclen := int(binary.NativeEndian.Uint16(rest[16:18]))
			if reclen < 19 || reclen > len(rest) {
				return errors.New("bad directory entry")
			}
			name := rest[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if len(name) > 0 {
				if err := f(name); err != nil {
					return err
				}
			}
			rest = rest[reclen:]
		}
	}
}

// procUID is the real uid of a process.
func procUID(pid int) (string, error) {
	s, err := readFile(procPath(pid, "status"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(s, "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0], nil
			}
		}
	}
	return "", fmt.Errorf("no Uid in status")
}
