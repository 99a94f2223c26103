package config

import (
	"path/filepath"
	"strconv"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"
)

// auditOptions are the keys each audit device type takes.
var auditOptions = map[string]map[string]bool{
	"file":   {"file_path": true, "log_raw": true, "hmac_accessor": true, "prefix": true, "mode": true},
	"socket": {"address": true, "socket_type": true, "log_raw": true, "hmac_accessor": true, "prefix": true},
	"syslog": {"facility": true, "tag": true, "log_raw": true, "hmac_accessor": true, "prefix": true},
}

// audit parses audit "TYPE" "NAME" { key = value ... }.
func (p *parser) audit(item *ast.ObjectItem) (Audit, bool) {
	pos := item.Keys[0].Pos()
	if len(item.Keys) != 3 {
		p.errorf(pos, "audit", `must be written as audit "TYPE" "NAME" { ... }`)
		return Audit{}, false
	}
	typ, name := keyName(item.Keys[1]), keyName(item.Keys[2])
	allowed, ok := auditOptions[typ]
	if !ok {
		p.errorf(item.Keys[1].Pos(), "audit", "unknown audit device type %q (file, socket, syslog)", typ)
		return Audit{}, false
	}
	obj, ok := item.Val.(*ast.ObjectType)
	if !ok {
		p.errorf(pos, "audit", "must be a block")
		return Audit{}, false
	}
	label := `audit "` + typ + `" "` + name + `"`
	a := Audit{Type: typ, Name: name, Options: map[string]string{}}
	for _, it := range obj.List.Items {
		k := keyName(it.Keys[0])
		if !allowed[k] {
			p.errorf(it.Keys[0].Pos(), label, "unknown key %q", k)
			continue
		}
		tok, ok := p.literal(it, label+": "+k)
		if !ok {
			continue
		}
		switch tok.Type {
		case token.STRING:
			a.Options[k], _ = tok.Value().(string)
		case token.BOOL:
			b, _ := tok.Value().(bool)
			a.Options[k] = strconv.FormatBool(b)
		default:
			a.Options[k] = tok.Text
		}
	}
	if typ == "file" {
		fp := a.Options["file_path"]
		if fp == "" || (fp != "stdout" && !filepath.IsAbs(fp)) {
			p.errorf(pos, label, "file_path must be an absolute path or stdout")
		}
	}
	if typ == "socket" && a.Options["address"] == "" {
		p.errorf(pos, label, "address is required")
	}
	return a, true
}

// strList reads a list of strings.
func (p *parser) strList(item *ast.ObjectItem, key string) []string {
	l, ok := item.Val.(*ast.ListType)
	if !ok {
		p.errorf(item.Keys[0].Pos(), key, "must be a list of strings")
		return nil
	}
	var out []string
	for _, e := range l.List {
		lit, ok := e.(*ast.LiteralType)
		if !ok || lit.Token.Type != token.STRING {
			p.errorf(item.Keys[0].Pos(), key, "must be a list of strings")
			return nil
		}
		s, _ := lit.Token.Value().(string)
		if !filepath.IsAbs(s) {
			p.errorf(item.Keys[0].Pos(), key, "%q must be an absolute directory", s)
			continue
		}
		out = append(out, filepath.Clean(s))
	}
	return out
}
