package agent

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const templateHead = `arca { address = "http://127.0.0.1:8200" }
auto_auth { method "approle" { config = { role_id_file_path = "/r" } } }
`

func TestTemplateConfig(t *testing.T) {
	src := filepath.Join(t.TempDir(), "app.tmpl")
	if err := os.WriteFile(src, []byte(`{{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(templateHead + `
template_config { static_secret_render_interval = "30s" }
template {
  source      = "` + src + `"
  destination = "/etc/app/app.conf"
  perms       = "0640"
  user        = "app"
  command     = "systemctl reload app"
  error_on_missing_key = true
}
template {
  contents    = "[[ env \"HOME\" ]]"
  destination = "/etc/app/home"
  left_delimiter = "[["
  right_delimiter = "]]"
}
env_template "DB_PASSWORD" { contents = "{{ with secret \"database/creds/app\" }}{{ .Data.password }}{{ end }}" }
exec {
  command = ["/usr/bin/app", "-v"]
  restart_on_secret_changes = "never"
  restart_stop_signal = "SIGINT"
  restart_stop_timeout = "5s"
  user = "app"
}`)
	if err != nil {
		t.Fatal(err)
	}
	if c.StaticSecretRenderInterval != 30*time.Second || len(c.Templates) != 2 {
		t.Fatalf("got %+v", c.Templating)
	}
	if t0 := c.Templates[0]; t0.Perms != 0o640 || t0.User != "app" || !t0.ErrorOnMissingKey || !strings.Contains(t0.Contents, ".Data.data.password") || t0.Command != "systemctl reload app" {
		t.Errorf("first template: %+v", t0)
	}
	if t1 := c.Templates[1]; t1.Perms != 0o644 || t1.LeftDelim != "[[" {
		t.Errorf("second template: %+v", t1)
	}
	e := c.Exec
	if e == nil || strings.Join(e.Command, " ") != "/usr/bin/app -v" || e.RestartAlways || e.StopSignal != syscall.SIGINT || e.StopTimeout != 5*time.Second || len(e.Env) != 1 || e.Env[0].Name != "DB_PASSWORD" {
		t.Errorf("exec: %+v", e)
	}
	// perms as HCL's octal number.
	c, err = ParseConfig(templateHead + "template {\n contents = \"x\"\n destination = \"/a\"\n perms = 0600\n}")
	if err != nil || c.Templates[0].Perms != 0o600 {
		t.Errorf("perms = 0600: %v", err)
	}
	// Neither a listener nor defaults are needed.
	c, err = ParseConfig(templateHead + `exec { command = ["/bin/true"] }`)
	if err != nil || c.StaticSecretRenderInterval != 5*time.Minute || !c.Exec.RestartAlways || c.Exec.StopSignal != syscall.SIGTERM || c.Exec.StopTimeout != 30*time.Second || c.Exec.SharedCgroup {
		t.Errorf("defaults (the child in a cgroup of its own): %+v, %v", c, err)
	}
	c, err = ParseConfig(templateHead + "exec {\n command = [\"/bin/true\"]\n own_cgroup = false\n}")
	if err != nil || !c.Exec.SharedCgroup {
		t.Errorf("own_cgroup = false: %+v, %v", c, err)
	}
}

func TestTemplateConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"unknown key", `template {
  contents = "x"
  destination = "/a"
  wait = "5s"
}`, `template 1: unknown key "wait"`},
		{"source and contents", `template {
  contents = "x"
  source = "/x"
  destination = "/a"
}`, "template 1: exactly one of source and contents"},
		{"no destination", `template { contents = "x" }`, "destination is required"},
		{"bad perms", `template {
  contents = "x"
  destination = "/a"
  perms = "rw"
}`, "perms must be octal"},
		{"bad template", `template {
  contents = "{{ with }"
  destination = "/a"
}`, "template 1:"},
		{"unknown function", `template {
  contents = "{{ plugin \"x\" }}"
  destination = "/a"
}`, `function "plugin" not defined`},
		{"env without exec", `env_template "A" { contents = "x" }`, "env_template needs an exec block"},
		{"exec unknown key", `exec {
  command = ["/bin/true"]
  restart = "always"
}`, `exec: unknown key "restart"`},
		{"exec command a string", `exec { command = "/bin/true" }`, "command must be a list of strings"},
		{"restart value", `exec {
  command = ["/bin/true"]
  restart_on_secret_changes = "sometimes"
}`, `"always" or "never"`},
		{"env unknown key", `exec { command = ["/bin/true"] }
env_template "A" {
  contents = "x"
  destination = "/a"
}`, `env_template "A": unknown key "destination"`},
		{"own_cgroup not a boolean", `exec {
  command = ["/bin/true"]
  own_cgroup = "no"
}`, "own_cgroup must be a boolean"},
		{"interval", `template_config { static_secret_render_interval = "soon" }`, "static_secret_render_interval must be"},
		{"nothing to do", ``, "at least one listener, template or exec block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(templateHead + tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
