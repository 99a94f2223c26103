package agent

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl"
)

// Config is the agent's configuration, in the shape Vault Agent users
// know: an "arca" (or "vault") block, auto_auth, listeners.
type Config struct {
	// Address is the Arca server's URL; CACert the PEM file that verifies
	// its certificate (default: the system roots).
	Address, CACert string
	// TLSServerName overrides the name checked in the server certificate.
	TLSServerName string
	// ClientCert and ClientKey are the agent's TLS client certificate for
	// the cert auth method (auto_auth "cert" may name its own instead).
	ClientCert, ClientKey string
	AutoAuth              AutoAuth
	Listeners             []Listener
	// WorkloadMount is where the workload auth method is mounted.
	WorkloadMount string
	// KVCacheTTL is how long a read of a static secret (no lease) is
	// served from the agent's memory; zero disables it.
	KVCacheTTL time.Duration
	// MaxStale is how long past KVCacheTTL a cached read is still served
	// while the server is unreachable (config_cache.go); zero: never.
	MaxStale time.Duration
	// Templating renders secrets into files and a child's environment
	// (config_template.go).
	Templating
	// Now is the agent's clock, for token freshness, the read cache,
	// renewals and templates' schedules (nil: time.Now).
	Now func() time.Time
}

// AutoAuth is how the agent logs itself in: AppRole from files, or the
// cert method with a TLS client certificate.
type AutoAuth struct {
	// Method is "approle" or "cert".
	Method           string
	Mount            string
	RoleIDFile       string
	SecretIDFile     string
	RemoveSecretFile bool
	// CertName is the cert method's entry to log in against ("": the one
	// that trusts the certificate); ClientCert and ClientKey the files.
	CertName, ClientCert, ClientKey string
}

// Listener is where the agent serves.
type Listener struct {
	// Type is "unix" (attests callers) or "tcp" (loopback; forwards only
	// requests that carry their own token).
	Type    string
	Address string
	// SocketMode is the unix socket's permission bits (default 0666: the
	// kernel credentials, not the file mode, decide who gets what).
	SocketMode os.FileMode
	// SocketUser and SocketGroup own the socket file when set.
	SocketUser, SocketGroup string
}

// LoadConfig reads and checks an agent configuration file. Every problem
// is reported, each naming its block and key.
func LoadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(string(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses the text of a configuration.
func ParseConfig(text string) (*Config, error) {
	var root map[string]any
	if err := hcl.Decode(&root, text); err != nil {
		return nil, err
	}
	p := &parser{}
	c := &Config{WorkloadMount: "auth/workload", AutoAuth: AutoAuth{RemoveSecretFile: true}}
	p.only("", root, "arca", "vault", "auto_auth", "listener", "workload", "cache", "template", "template_config", "exec", "env_template")
	servers := append(p.blocks(root, "arca"), p.blocks(root, "vault")...)
	switch len(servers) {
	case 0:
		p.errf("an arca { address = ... } block is required")
	case 1:
		s := servers[0]
		p.only("arca", s, "address", "ca_cert", "tls_server_name", "client_cert", "client_key")
		c.Address, c.CACert, c.TLSServerName = p.str(s, "address"), p.str(s, "ca_cert"), p.str(s, "tls_server_name")
		c.ClientCert, c.ClientKey = p.str(s, "client_cert"), p.str(s, "client_key")
		if u, err := url.Parse(c.Address); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.errf("arca.address must be an http(s) URL such as https://arca.internal:8200")
		}
	default:
		p.errf("only one arca (or vault) block is allowed")
	}
	for _, aa := range p.blocks(root, "auto_auth") {
		p.only("auto_auth", aa, "method")
		methods := p.labeled(aa, "method")
		if len(methods) > 1 {
			p.errf("auto_auth: only one method is allowed")
		}
		for _, m := range methods {
			p.autoAuthMethod(c, m.label, m.body)
		}
	}
	switch c.AutoAuth.Method {
	case "":
		p.errf("auto_auth: a method is required: \"approle\" with config.role_id_file_path, or \"cert\" with a client certificate")
	case "approle":
		if c.AutoAuth.RoleIDFile == "" {
			p.errf("auto_auth: method \"approle\" needs config.role_id_file_path")
		}
	case "cert":
		if c.AutoAuth.ClientCert == "" {
			c.AutoAuth.ClientCert, c.AutoAuth.ClientKey = c.ClientCert, c.ClientKey
		}
		if c.AutoAuth.ClientCert == "" || c.AutoAuth.ClientKey == "" {
			p.errf("auto_auth: method \"cert\" needs config.client_cert and config.client_key (or client_cert and client_key in the arca block)")
		}
		if !strings.HasPrefix(c.Address, "https://") {
			p.errf("auto_auth: method \"cert\" needs an https:// arca.address (the certificate is presented in the TLS handshake)")
		}
	}
	for _, l := range p.labeled(root, "listener") {
		if _, ok := l.body["use_auto_auth_token"]; ok {
			p.errf("listener %q: use_auto_auth_token is not supported: the agent lends its own token to no caller (workloads get theirs through the UNIX socket, by who the kernel says they are)", l.label)
			delete(l.body, "use_auto_auth_token")
		}
		p.only("listener "+l.label, l.body, "address", "socket_mode", "socket_user", "socket_group", "tls_disable")
		ln := Listener{Type: l.label, Address: p.str(l.body, "address"), SocketMode: 0o666,
			SocketUser: p.str(l.body, "socket_user"), SocketGroup: p.str(l.body, "socket_group")}
		if m := p.str(l.body, "socket_mode"); m != "" {
			n, err := strconv.ParseUint(m, 8, 32)
			if err != nil || n > 0o777 {
				p.errf("listener %q: socket_mode must be octal permission bits such as \"0660\"", l.label)
			}
			ln.SocketMode = os.FileMode(n)
		}
		switch l.label {
		case "unix":
			if !strings.HasPrefix(ln.Address, "/") {
				p.errf("listener \"unix\": address must be an absolute socket path")
			}
		case "tcp":
			host, _, err := net.SplitHostPort(ln.Address)
			if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
				p.errf("listener \"tcp\": address must be a loopback host:port")
			}
		default:
			p.errf("listener %q: type must be \"unix\" or \"tcp\"", l.label)
		}
		c.Listeners = append(c.Listeners, ln)
	}
	p.templating(c, root)
	if len(c.Listeners) == 0 && len(c.Templates) == 0 && c.Exec == nil {
		p.errf("at least one listener, template or exec block is required")
	}
	for _, w := range p.blocks(root, "workload") {
		p.only("workload", w, "mount_path")
		if mp := p.str(w, "mount_path"); mp != "" {
			c.WorkloadMount = strings.Trim(mp, "/")
		}
	}
	p.cache(c, root)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return c, nil
}

// autoAuthMethod reads one auto_auth method block.
func (p *parser) autoAuthMethod(c *Config, label string, body map[string]any) {
	a := &c.AutoAuth
	a.Method = label
	p.only("auto_auth.method", body, "mount_path", "config")
	switch label {
	case "approle":
		a.Mount = "auth/approle"
		for _, conf := range p.blocks(body, "config") {
			p.only("auto_auth.method.config", conf, "role_id_file_path", "secret_id_file_path", "remove_secret_id_file_after_reading")
			a.RoleIDFile = p.str(conf, "role_id_file_path")
			a.SecretIDFile = p.str(conf, "secret_id_file_path")
			if v, ok := conf["remove_secret_id_file_after_reading"]; ok {
				b, err := asBool(v)
				if err != nil {
					p.errf("auto_auth.method.config.remove_secret_id_file_after_reading must be a boolean")
				}
				a.RemoveSecretFile = b
			}
		}
	case "cert":
		a.Mount = "auth/cert"
		for _, conf := range p.blocks(body, "config") {
			p.only("auto_auth.method.config", conf, "name", "client_cert", "client_key")
			a.CertName, a.ClientCert, a.ClientKey = p.str(conf, "name"), p.str(conf, "client_cert"), p.str(conf, "client_key")
		}
	default:
		p.errf("auto_auth.method %q: \"approle\" and \"cert\" are supported", label)
		return
	}
	if mp := p.str(body, "mount_path"); mp != "" {
		a.Mount = strings.Trim(mp, "/")
	}
}

// parser collects every error in the file.
type parser struct{ errs []error }

func (p *parser) errf(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

func (p *parser) only(block string, m map[string]any, keys ...string) {
	var unknown []string
	for k := range m {
		if !contains(keys, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		if block == "" {
			p.errf("unknown key %q", k)
		} else {
			p.errf("%s: unknown key %q", block, k)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *parser) str(m map[string]any, key string) string {
	switch v := m[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	}
	p.errf("%s must be a string", key)
	return ""
}

// blocks returns the bodies of "key { ... }" (and "key = { ... }").
func (p *parser) blocks(m map[string]any, key string) []map[string]any {
	switch v := m[key].(type) {
	case nil:
		return nil
	case []map[string]any:
		return v
	case map[string]any:
		return []map[string]any{v}
	}
	p.errf("%s must be a block", key)
	return nil
}

type labeledBlock struct {
	label string
	body  map[string]any
}

// labeled returns the bodies of `key "label" { ... }`.
func (p *parser) labeled(m map[string]any, key string) []labeledBlock {
	var out []labeledBlock
	for _, outer := range p.blocks(m, key) {
		labels := make([]string, 0, len(outer))
		for l := range outer {
			labels = append(labels, l)
		}
		sort.Strings(labels)
		for _, l := range labels {
			for _, body := range p.blocks(outer, l) {
				out = append(out, labeledBlock{l, body})
			}
		}
	}
	return out
}

func asBool(v any) (bool, error) {
	switch b := v.(type) {
	case bool:
		return b, nil
	case string:
		return strconv.ParseBool(b)
	}
	return false, fmt.Errorf("not a boolean")
}
