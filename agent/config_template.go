package agent

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// Templating is the part of the configuration that renders secrets into
// files and into a supervised child's environment, in Vault Agent's
// shape: template blocks, template_config, exec and env_template.
type Templating struct {
	Templates []Template
	// StaticSecretRenderInterval is how often a secret without a lease
	// (a KV read) is read again and its templates re-rendered
	// (template_config.static_secret_render_interval; default 5m).
	StaticSecretRenderInterval time.Duration
	// Exec is the supervised child (nil: none).
	Exec *Exec
}

// Template renders secrets into a file.
type Template struct {
	// Source is a file holding the template, Contents the template
	// itself; exactly one is set.
	Source, Contents string
	// Destination is the file written, atomically, when the output
	// changes.
	Destination string
	// Perms is the file's mode (default 0644).
	Perms os.FileMode
	// User and Group own the file when set (names or numeric ids).
	User, Group string
	// Command is a shell line run (/bin/sh -c) after the file changed.
	Command string
	// ErrorOnMissingKey makes a missing map key an error instead of
	// "<no value>".
	ErrorOnMissingKey bool
	// LeftDelim and RightDelim replace "{{" and "}}".
	LeftDelim, RightDelim string
}

// EnvTemplate renders one environment variable of the exec child.
type EnvTemplate struct {
	Name, Contents        string
	ErrorOnMissingKey     bool
	LeftDelim, RightDelim string
}

// Exec is a child process the agent starts with secrets in its
// environment, restarts when they change, and whose exit code becomes
// the agent's.
type Exec struct {
	Command []string
	// RestartAlways restarts the child when an env template's output
	// changes (restart_on_secret_changes = "always", the default).
	RestartAlways bool
	// StopSignal (default SIGTERM) asks the child to stop; after
	// StopTimeout (default 30s) it is killed.
	StopSignal  syscall.Signal
	StopTimeout time.Duration
	// User and Group run the child when set (names or numeric ids).
	User, Group string
	// SharedCgroup leaves the child in the agent's cgroup (own_cgroup =
	// false) instead of one of its own.
	SharedCgroup bool
	Env          []EnvTemplate
}

// defaultStaticInterval is Vault Agent's default for
// static_secret_render_interval.
const defaultStaticInterval = 5 * time.Minute

var signalNames = map[string]syscall.Signal{
	"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGHUP": syscall.SIGHUP,
	"SIGQUIT": syscall.SIGQUIT, "SIGUSR1": syscall.SIGUSR1, "SIGUSR2": syscall.SIGUSR2, "SIGKILL": syscall.SIGKILL,
}

// templating reads template, template_config, exec and env_template.
func (p *parser) templating(c *Config, root map[string]any) {
	c.StaticSecretRenderInterval = defaultStaticInterval
	for _, tc := range p.blocks(root, "template_config") {
		p.only("template_config", tc, "static_secret_render_interval")
		if s := p.str(tc, "static_secret_render_interval"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				p.errf("template_config.static_secret_render_interval must be a positive duration, such as \"5m\"")
			}
			c.StaticSecretRenderInterval = d
		}
	}
	for i, b := range p.blocks(root, "template") {
		name := "template " + strconv.Itoa(i+1)
		p.only(name, b, "source", "contents", "destination", "perms", "user", "group", "command",
			"error_on_missing_key", "left_delimiter", "right_delimiter")
		t := Template{Source: p.str(b, "source"), Contents: p.str(b, "contents"), Destination: p.str(b, "destination"),
			Perms: 0o644, User: p.str(b, "user"), Group: p.str(b, "group"), Command: p.str(b, "command"),
			ErrorOnMissingKey: p.boolean(name, b, "error_on_missing_key"),
			LeftDelim:         p.str(b, "left_delimiter"), RightDelim: p.str(b, "right_delimiter")}
		if v, ok := b["perms"]; ok {
			t.Perms = p.perms(name, v)
		}
		switch {
		case (t.Source == "") == (t.Contents == ""):
			p.errf("%s: exactly one of source and contents is required", name)
		case t.Source != "":
			raw, err := os.ReadFile(t.Source)
			if err != nil {
				p.errf("%s: reading source: %v", name, err)
			}
			t.Contents = string(raw)
		}
		if t.Destination == "" {
			p.errf("%s: destination is required (a file path, relative to the agent's working directory or absolute)", name)
		}
		p.checkTemplate(name, t.Contents, t.LeftDelim, t.RightDelim)
		c.Templates = append(c.Templates, t)
	}
	envs := p.labeled(root, "env_template")
	execs := p.blocks(root, "exec")
	if len(execs) > 1 {
		p.errf("only one exec block is allowed")
	}
	if len(envs) > 0 && len(execs) == 0 {
		p.errf("env_template needs an exec block: the variables are the child's environment")
	}
	for _, b := range execs {
		name := "exec"
		p.only(name, b, "command", "restart_on_secret_changes", "restart_stop_signal", "restart_stop_timeout", "user", "group", "own_cgroup")
		e := &Exec{RestartAlways: true, StopSignal: syscall.SIGTERM, StopTimeout: 30 * time.Second,
			User: p.str(b, "user"), Group: p.str(b, "group")}
		e.Command = p.strings(name, b, "command")
		if _, set := b["own_cgroup"]; set {
			e.SharedCgroup = !p.boolean(name, b, "own_cgroup")
		}
		if len(e.Command) == 0 {
			p.errf("exec: command must be a non-empty list, such as [\"/usr/bin/app\", \"-flag\"]")
		}
		switch p.str(b, "restart_on_secret_changes") {
		case "", "always":
		case "never":
			e.RestartAlways = false
		default:
			p.errf("exec: restart_on_secret_changes must be \"always\" or \"never\"")
		}
		if s := p.str(b, "restart_stop_signal"); s != "" {
			sig, ok := signalNames["SIG"+strings.TrimPrefix(strings.ToUpper(s), "SIG")]
			if !ok {
				p.errf("exec: restart_stop_signal must be a signal name such as \"SIGTERM\"")
			}
			e.StopSignal = sig
		}
		if s := p.str(b, "restart_stop_timeout"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				p.errf("exec: restart_stop_timeout must be a positive duration, such as \"30s\"")
			}
			e.StopTimeout = d
		}
		for _, l := range envs {
			name := "env_template " + strconv.Quote(l.label)
			p.only(name, l.body, "contents", "error_on_missing_key", "left_delimiter", "right_delimiter")
			et := EnvTemplate{Name: l.label, Contents: p.str(l.body, "contents"),
				ErrorOnMissingKey: p.boolean(name, l.body, "error_on_missing_key"),
				LeftDelim:         p.str(l.body, "left_delimiter"), RightDelim: p.str(l.body, "right_delimiter")}
			if l.label == "" || strings.ContainsAny(l.label, "=\x00") {
				p.errf("%s: not a valid environment variable name", name)
			}
			if et.Contents == "" {
				p.errf("%s: contents is required", name)
			}
			p.checkTemplate(name, et.Contents, et.LeftDelim, et.RightDelim)
			e.Env = append(e.Env, et)
		}
		c.Exec = e
	}
}

// perms reads file permission bits: a string of octal digits ("0640"),
// or a number HCL has read (0640 is octal there too).
func (p *parser) perms(block string, v any) os.FileMode {
	var n uint64
	var err error
	switch x := v.(type) {
	case string:
		n, err = strconv.ParseUint(x, 8, 32)
	case int:
		n = uint64(x)
		if x < 0 {
			err = strconv.ErrRange
		}
	default:
		err = strconv.ErrSyntax
	}
	if err != nil || n > 0o777 {
		p.errf("%s: perms must be octal permission bits such as \"0640\"", block)
		return 0
	}
	return os.FileMode(n)
}

// checkTemplate reports a template that does not parse.
func (p *parser) checkTemplate(name, text, left, right string) {
	if _, err := template.New(name).Delims(left, right).Funcs(templateFuncNames).Parse(text); err != nil {
		p.errf("%s: %v", name, err)
	}
}

func (p *parser) boolean(block string, m map[string]any, key string) bool {
	v, ok := m[key]
	if !ok {
		return false
	}
	b, err := asBool(v)
	if err != nil {
		p.errf("%s: %s must be a boolean", block, key)
	}
	return b
}

// strings reads a list of strings.
func (p *parser) strings(block string, m map[string]any, key string) []string {
	list, ok := m[key].([]any)
	if !ok {
		if _, set := m[key]; set {
			p.errf("%s: %s must be a list of strings", block, key)
		}
		return nil
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			p.errf("%s: %s must be a list of strings", block, key)
			return nil
		}
		out = append(out, s)
	}
	return out
}
