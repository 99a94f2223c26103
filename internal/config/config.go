// Package config reads the server's HCL configuration file, in the shape
// Vault operators know, into typed values. Validation is strict: an unknown
// key, a wrong type or a bad value is an error that names the file, line
// and key, and every error in the file is reported at once.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
	hclparser "github.com/hashicorp/hcl/hcl/parser"
	"github.com/hashicorp/hcl/hcl/token"
)

// Config is the server's configuration.
type Config struct {
	// Storage is where data lives; exactly one storage block is required.
	Storage Storage
	// Seal is what protects the root key: the one enabled seal block, and
	// Shamir key shares when there is none.
	Seal Seal
	// DisabledSeal is the seal block marked disabled = "true": the seal a
	// migration moves the root key away from, to Seal. Nil: no migration.
	DisabledSeal *Seal
	// Listeners are the API listeners; at least one.
	Listeners []Listener
	// APIAddr is the address clients are told to use (http or https URL).
	APIAddr string
	// ClusterAddr is where other nodes reach this one (URL); raft's
	// transport listens on its host:port.
	ClusterAddr string
	// DisableMlock lets the server run when key pages cannot be locked.
	DisableMlock bool
	// LogLevel is trace, debug, info (default), warn or error.
	LogLevel string
	// Audit are the audit devices declared in the file (the normal way).
	Audit []Audit
	// AuditAPIFileDirs are the directories under which file audit devices
	// may be enabled through the API (sys/audit). Empty: API enabling is
	// refused, so the API cannot be used to write files anywhere.
	AuditAPIFileDirs []string
}

// Audit is an audit block: audit "TYPE" "NAME" { options }.
type Audit struct {
	Type    string // file, socket or syslog
	Name    string
	Options map[string]string
}

// Seal is a seal block: seal "TYPE" { ... }.
type Seal struct {
	// Type is "shamir": the root key is protected by an unseal key split
	// into shares that people hold. It is the default, and what the zero
	// value means.
	Type string
	// PKCS11 is the settings of seal "pkcs11".
	PKCS11 PKCS11Seal
	// Transit is the transit seal's block, when Type is "transit".
	Transit *SealTransit
}

// Storage is a storage block.
type Storage struct {
	// Type is "bolt", "raft" or "inmem".
	Type string
	// Path is the bbolt file (bolt), or the node's directory (raft).
	Path string
	// NodeID names a raft node in its cluster (raft only, required).
	NodeID string
	// PerformanceMultiplier scales Raft's timeouts (1, the default: a
	// follower stands for election after 300-600ms without a leader);
	// raise it on slow or loaded hosts and networks, at the cost of a
	// slower failover.
	PerformanceMultiplier int
	// RetryJoin lists nodes of a cluster this new raft node joins
	// through; none: it starts a cluster of its own at init.
	RetryJoin []RetryJoin
}

// Listener is a listener block.
type Listener struct {
	// Type is "tcp".
	Type string
	// Address is host:port; default "127.0.0.1:8200".
	Address string
	// TLSCertFile and TLSKeyFile are required unless TLSDisable.
	TLSCertFile, TLSKeyFile string
	// TLSDisable serves plain HTTP.
	TLSDisable bool
	// ClusterAddress is where a raft node's cluster port listens
	// (host:port); empty: cluster_addr's host and port. Set it when
	// other nodes reach this one at another address (NAT, a proxy).
	ClusterAddress string
	// Limits bound what a request may cost on this listener.
	Limits ListenerLimits
}

// Error is one problem in a configuration file.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// ParseFile reads and parses the file at path.
func ParseFile(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	return Parse(path, src)
}

// Parse parses src, naming it name in errors.
func Parse(name string, src []byte) (*Config, error) {
	f, err := hcl.ParseBytes(src)
	if err != nil {
		return nil, &Error{File: name, Line: syntaxLine(err), Msg: "syntax error: " + err.Error()}
	}
	p := &parser{file: name}
	conf := p.root(f.Node)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return conf, nil
}

// syntaxLine returns the line of an hcl syntax error, which carries its
// position as a typed error.
func syntaxLine(err error) int {
	var pe *hclparser.PosError
	if errors.As(err, &pe) {
		return pe.Pos.Line
	}
	return 0
}

type parser struct {
	file string
	errs []error
}

func (p *parser) errorf(pos token.Pos, key, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: pos.Line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func keyName(k *ast.ObjectKey) string {
	if v, ok := k.Token.Value().(string); ok {
		return v
	}
	return k.Token.Text
}

func (p *parser) root(node ast.Node) *Config {
	conf := &Config{LogLevel: "info", Seal: Seal{Type: "shamir"}}
	list, ok := node.(*ast.ObjectList)
	if !ok {
		p.errorf(node.Pos(), "", "the file must be a list of settings and blocks")
		return conf
	}
	storages := 0
	var seals []sealBlock
	for _, item := range list.Items {
		key := keyName(item.Keys[0])
		pos := item.Keys[0].Pos()
		switch key {
		case "storage":
			storages++
			if storages > 1 {
				p.errorf(pos, key, "only one storage block is allowed")
				continue
			}
			conf.Storage = p.storage(item)
		case "seal":
			seals = append(seals, p.seal(item))
		case "listener":
			if l, ok := p.listener(item); ok {
				conf.Listeners = append(conf.Listeners, l)
			}
		case "cluster_addr":
			conf.ClusterAddr = p.str(item, key)
			if u, err := url.Parse(conf.ClusterAddr); conf.ClusterAddr != "" && (err != nil || u.Host == "" || u.Port() == "") {
				p.errorf(pos, key, "must be a URL with a host and port, such as https://10.0.0.1:8201, got %q", conf.ClusterAddr)
			}
		case "api_addr":
			conf.APIAddr = p.str(item, key)
			if u, err := url.Parse(conf.APIAddr); conf.APIAddr != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
				p.errorf(pos, key, "must be an http:// or https:// URL, got %q", conf.APIAddr)
			}
		case "disable_mlock":
			conf.DisableMlock = p.boolean(item, key)
		case "audit":
			if a, ok := p.audit(item); ok {
				conf.Audit = append(conf.Audit, a)
			}
		case "audit_api_file_dirs":
			conf.AuditAPIFileDirs = p.strList(item, key)
		case "log_level":
			conf.LogLevel = strings.ToLower(p.str(item, key))
			switch conf.LogLevel {
			case "trace", "debug", "info", "warn", "error":
			default:
				p.errorf(pos, key, "must be one of trace, debug, info, warn, error; got %q", conf.LogLevel)
			}
		default:
			p.errorf(pos, key, "unknown key")
		}
	}
	p.seals(conf, seals)
	if storages == 0 {
		p.errorf(token.Pos{}, "storage", "a storage block is required, such as storage \"bolt\" { path = \"/var/lib/arca/arca.db\" }")
	}
	if len(conf.Listeners) == 0 && len(p.errs) == 0 {
		p.errorf(token.Pos{}, "listener", "at least one listener block is required")
	}
	if conf.Storage.Type == "raft" && conf.ClusterAddr == "" && len(p.errs) == 0 {
		p.errorf(token.Pos{}, "cluster_addr", "raft storage needs cluster_addr: where the other nodes reach this one (its port is raft's)")
	}
	return conf
}
