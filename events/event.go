package events

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Event is one change. It names what changed and how, never a value.
type Event struct {
	ID   string
	Type string // "kv-v2/data-write", as Vault names its event types
	Time time.Time
	// Path is the full path the change was made on ("secret/delete/app").
	Path string
	// DataPath is the path a reader reads to see the change
	// ("secret/data/app"); a subscriber learns of the event only if it may
	// read it. Path when empty.
	DataPath string
	// Operation is the type's last part ("data-write").
	Operation string
	// MountPath and Plugin name the mount that changed ("secret/", "kv").
	MountPath     string
	MountAccessor string
	Plugin        string
	// Metadata holds other non-secret facts (a lease's id).
	Metadata map[string]string
	// Index is the X-Vault-Index of the state the event was published in
	// (Config.Index; empty without one): a reader that sends it back
	// reads, on any node of a cluster, a state that holds the change.
	Index string
	// encoded is the CloudEvent JSON, made once by the dispatcher.
	encoded []byte
}

// Encoded is ev's CloudEvent JSON (see CloudEvent); nil if it could not
// be encoded.
func (ev Event) Encoded() []byte {
	if ev.encoded == nil {
		ev.encoded, _ = ev.CloudEvent()
	}
	return ev.encoded
}

// ReadPath is the path whose read right lets a subscriber see ev.
func (ev Event) ReadPath() string {
	if ev.DataPath != "" {
		return ev.DataPath
	}
	return ev.Path
}

// Event types Arca adds to Vault's.
const (
	// TypeMissed tells a subscriber that events were dropped for it
	// (its queue was full): it should re-read what it holds.
	TypeMissed = "arca/missed-events"
	// TypeLeaseRevoke: a lease was revoked (by id, prefix, token or expiry).
	TypeLeaseRevoke = "lease/revoke"
	// TypePolicyWrite and TypePolicyDelete: an ACL policy changed.
	TypePolicyWrite  = "policy/write"
	TypePolicyDelete = "policy/delete"
)

// Mount describes the mount a request was served by, for ForRequest.
type Mount struct {
	Path     string // "secret/"
	Type     string // "kv"
	Accessor string
	Version  string // the kv version option ("2")
}

// ForRequest is the event a successful request makes, if any: rel is the
// path relative to the mount, op the request's operation ("create",
// "update", "patch", "delete"). Reads and lists make none.
func ForRequest(m Mount, rel, op string) (Event, bool) {
	write := op == "create" || op == "update"
	var kind, dataPath string
	switch {
	case m.Type == "kv" && m.Version == "2":
		first, key, _ := strings.Cut(rel, "/")
		dataPath = m.Path + "data/" + key
		switch {
		case first == "data" && key != "" && write:
			kind = "data-write"
		case first == "data" && key != "" && op == "patch":
			kind = "data-patch"
		case first == "data" && key != "" && op == "delete":
			kind = "data-delete"
		case first == "delete" && key != "" && write:
			kind = "delete"
		case first == "undelete" && key != "" && write:
			kind = "undelete"
		case first == "destroy" && key != "" && write:
			kind = "destroy"
		case first == "metadata" && key != "" && write:
			kind = "metadata-write"
		case first == "metadata" && key != "" && op == "patch":
			kind = "metadata-patch"
		case first == "metadata" && key != "" && op == "delete":
			kind = "metadata-delete"
		case rel == "config" && write:
			kind, dataPath = "config-write", ""
		default:
			return Event{}, false
		}
		return Event{Type: "kv-v2/" + kind, Path: m.Path + rel, DataPath: dataPath, Operation: kind,
			MountPath: m.Path, MountAccessor: m.Accessor, Plugin: "kv"}, true
	case m.Type == "kv":
		switch {
		case write:
			kind = "write"
		case op == "delete":
			kind = "delete"
		default:
			return Event{}, false
		}
		return Event{Type: "kv-v1/" + kind, Path: m.Path + rel, Operation: kind, MountPath: m.Path, MountAccessor: m.Accessor, Plugin: "kv"}, true
	case m.Type == "workload" && strings.HasPrefix(rel, "role/") && len(rel) > len("role/"):
		switch {
		case write:
			kind = "role-write"
		case op == "delete":
			kind = "role-delete"
		default:
			return Event{}, false
		}
		return Event{Type: "workload/" + kind, Path: m.Path + rel, Operation: kind, MountPath: m.Path, MountAccessor: m.Accessor, Plugin: "workload"}, true
	}
	return Event{}, false
}

// LeaseRevoked is the event of a revoked lease; path is the path that
// issued it ("database/creds/app").
func LeaseRevoked(leaseID, path string) Event {
	return Event{Type: TypeLeaseRevoke, Path: path, Operation: "revoke", Metadata: map[string]string{"lease_id": leaseID}}
}

// PolicyChanged is the event of an ACL policy written or deleted.
func PolicyChanged(name string, deleted bool) Event {
	typ, op := TypePolicyWrite, "write"
	if deleted {
		typ, op = TypePolicyDelete, "delete"
	}
	return Event{Type: typ, Path: "sys/policies/acl/" + name, Operation: op, MountPath: "sys/", Plugin: "system"}
}

// Missed is the notice of n events dropped for a subscriber.
func Missed(n int, now time.Time) Event {
	return Event{ID: newID(), Type: TypeMissed, Time: now, Operation: "missed", Metadata: map[string]string{"count": strconv.Itoa(n)}}
}

// CloudEvent is ev in the JSON shape Vault sends with json=true: a
// CloudEvents 1.0 envelope whose data holds the event, its type and the
// mount it came from.
func (ev Event) CloudEvent() ([]byte, error) {
	meta := map[string]string{"operation": ev.Operation, "modified": "true"}
	if ev.Path != "" {
		meta["path"] = ev.Path
	}
	if ev.DataPath != "" {
		meta["data_path"] = ev.DataPath
	}
	for k, v := range ev.Metadata {
		meta[k] = v
	}
	if ev.Index != "" {
		meta["index"] = ev.Index
	}
	if ev.Type == TypeMissed {
		meta["modified"] = "false"
	}
	return json.Marshal(map[string]any{
		"id":              ev.ID,
		"source":          "arca",
		"specversion":     "1.0",
		"type":            ev.Type,
		"datacontenttype": "application/cloudevents",
		"time":            ev.Time.UTC().Format(time.RFC3339Nano),
		"data": map[string]any{
			"event":      map[string]any{"id": ev.ID, "metadata": meta},
			"event_type": ev.Type,
			"plugin_info": map[string]any{
				"mount_path": ev.MountPath, "mount_accessor": ev.MountAccessor, "plugin": ev.Plugin,
			},
		},
	})
}

// Received is an event as a subscriber decodes it (the agent).
type Received struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		Event struct {
			Metadata map[string]string `json:"metadata"`
		} `json:"event"`
		EventType string `json:"event_type"`
	} `json:"data"`
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
