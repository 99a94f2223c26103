package attest

import "strings"

// A cgroup path names a container or a systemd unit only where the
// kernel's rules make the name trustworthy: only root creates cgroups at
// the top of the hierarchy and in systemd's system slices, but whoever
// owns a delegated subtree (every user owns user@UID.service; a unit
// with Delegate=yes owns its own) may create any cgroup below it, named
// after any unit or container. So the unit and the container are read
// from the outermost layouts that systemd and the container runtimes
// create, and nothing below them counts.

// runtimeScopes are the prefixes of the scopes that container runtimes
// create through systemd: Docker, containerd (CRI), CRI-O, Podman.
var runtimeScopes = []string{"docker-", "cri-containerd-", "crio-", "libpod-"}

// cgroupfsRuntimes are the top-level cgroups of container runtimes that
// do not go through systemd: Docker's, and containerd's namespaces.
var cgroupfsRuntimes = []string{"docker", "moby", "default", "k8s.io"}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fromCgroup reads a container id (64 hex digits) or else a systemd unit
// (a .service or .scope) from a cgroup path; both are "" when the path
// is not one of these layouts:
//
//	/<slices...>/<unit>[/...]          systemd: the first segment after the
//	                                   slices, unless it is user@UID.service
//	/<slices...>/docker-<id>.scope     the same, for cri-containerd-, crio-,
//	                                   libpod- (Kubernetes: kubepods*.slice)
//	/<runtime>/<id>[/...]              Docker (/docker/<id>) and containerd
//	                                   (/default/<id>, /k8s.io/<id>) with the
//	                                   cgroupfs driver
//	/kubepods[/<qos>]/pod<uid>/<id>    Kubernetes with the cgroupfs driver
//	                                   (<id> or crio-<id>)
func fromCgroup(cgroup string) (containerID, unit string) {
	if !strings.HasPrefix(cgroup, "/") {
		return "", ""
	}
	segs := strings.Split(strings.TrimPrefix(cgroup, "/"), "/")
	if segs[0] == "kubepods" {
		i := 1
		if i < len(segs) && (segs[i] == "besteffort" || segs[i] == "burstable") {
			i++
		}
		if i+1 < len(segs) && strings.HasPrefix(segs[i], "pod") {
			c := strings.TrimPrefix(segs[i+1], "crio-")
			if isContainerID(c) {
				return c, ""
			}
		}
		return "", ""
	}
	i := 0
	for i < len(segs) && strings.HasSuffix(segs[i], ".slice") {
		i++
	}
	if i == len(segs) {
		return "", ""
	}
	first := segs[i]
	if i == 0 && !isUnit(first) {
		// A top-level cgroup that systemd did not create: a runtime's
		// own (/docker/<id>, containerd's /<namespace>/<id>). Another
		// name may be a subtree delegated whole to someone (LXC's
		// payload cgroups are), who may name what is below it.
		if len(segs) >= 2 && contains(cgroupfsRuntimes, first) && isContainerID(segs[1]) {
			return segs[1], ""
		}
		return "", ""
	}
	if !isUnit(first) || strings.HasPrefix(first, "user@") {
		// Not a unit, or a user's delegated manager: anything below it
		// was named by the user.
		return "", ""
	}
	if name, ok := strings.CutSuffix(first, ".scope"); ok {
		for _, p := range runtimeScopes {
			if id, ok := strings.CutPrefix(name, p); ok && isContainerID(id) {
				return id, ""
			}
		}
	}
	return "", first
}

func isUnit(seg string) bool {
	return len(seg) > len(".scope") && (strings.HasSuffix(seg, ".service") || strings.HasSuffix(seg, ".scope"))
}

func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}
