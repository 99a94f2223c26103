package config

import (
	"net"
	"strconv"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"
)

// block returns the body and label of `name "label" { ... }`.
func (p *parser) block(item *ast.ObjectItem, name string) (*ast.ObjectList, string, bool) {
	pos := item.Keys[0].Pos()
	if len(item.Keys) != 2 {
		p.errorf(pos, name, "must be written as %s \"TYPE\" { ... }", name)
		return nil, "", false
	}
	obj, ok := item.Val.(*ast.ObjectType)
	if !ok {
		p.errorf(pos, name, "must be a block")
		return nil, "", false
	}
	return obj.List, keyName(item.Keys[1]), true
}

func (p *parser) storage(item *ast.ObjectItem) Storage {
	body, typ, ok := p.block(item, "storage")
	if !ok {
		return Storage{}
	}
	st := Storage{Type: typ}
	label := "storage \"" + typ + "\""
	switch typ {
	case "inmem":
		for _, it := range body.Items {
			p.errorf(it.Keys[0].Pos(), label, "unknown key %q", keyName(it.Keys[0]))
		}
	case "bolt":
		for _, it := range body.Items {
			switch k := keyName(it.Keys[0]); k {
			case "path":
				st.Path = p.str(it, label+": path")
			default:
				p.errorf(it.Keys[0].Pos(), label, "unknown key %q", k)
			}
		}
		if st.Path == "" {
			p.errorf(item.Keys[0].Pos(), label, "path is required")
		}
	case "raft":
		for _, it := range body.Items {
			switch k := keyName(it.Keys[0]); k {
			case "path":
				st.Path = p.str(it, label+": path")
			case "node_id":
				st.NodeID = p.str(it, label+": node_id")
			case "performance_multiplier":
				st.PerformanceMultiplier = p.positive(it, label+": performance_multiplier")
			case "retry_join":
				if rj, ok := p.retryJoin(it, label); ok {
					st.RetryJoin = append(st.RetryJoin, rj)
				}
			default:
				p.errorf(it.Keys[0].Pos(), label, "unknown key %q", k)
			}
		}
		if st.Path == "" || st.NodeID == "" {
			p.errorf(item.Keys[0].Pos(), label, "path and node_id are required")
		}
	default:
		p.errorf(item.Keys[1].Pos(), "storage", "unknown storage type %q (supported: bolt, raft, inmem)", typ)
	}
	return st
}

func (p *parser) listener(item *ast.ObjectItem) (Listener, bool) {
	body, typ, ok := p.block(item, "listener")
	if !ok {
		return Listener{}, false
	}
	if typ != "tcp" {
		p.errorf(item.Keys[1].Pos(), "listener", "unknown listener type %q (supported: tcp)", typ)
		return Listener{}, false
	}
	l := Listener{Type: typ, Address: "127.0.0.1:8200"}
	label := "listener \"tcp\""
	var addrPos token.Pos
	for _, it := range body.Items {
		pos := it.Keys[0].Pos()
		switch k := keyName(it.Keys[0]); k {
		case "address":
			l.Address, addrPos = p.str(it, label+": address"), pos
		case "tls_cert_file":
			l.TLSCertFile = p.str(it, label+": "+k)
		case "tls_key_file":
			l.TLSKeyFile = p.str(it, label+": "+k)
		case "tls_disable":
			l.TLSDisable = p.boolean(it, label+": "+k)
		case "cluster_address":
			l.ClusterAddress = p.str(it, label+": "+k)
			if _, _, err := net.SplitHostPort(l.ClusterAddress); err != nil {
				p.errorf(pos, label+": cluster_address", "must be HOST:PORT, got %q", l.ClusterAddress)
			}
		default:
			if !p.listenerLimit(&l.Limits, it, label+": "+k, k) {
				p.errorf(pos, label, "unknown key %q", k)
			}
		}
	}
	if _, _, err := net.SplitHostPort(l.Address); err != nil {
		p.errorf(addrPos, label+": address", "must be HOST:PORT, got %q", l.Address)
	}
	if !l.TLSDisable && (l.TLSCertFile == "" || l.TLSKeyFile == "") {
		p.errorf(item.Keys[0].Pos(), label, "TLS is on by default: set tls_cert_file and tls_key_file, or tls_disable = true")
	}
	return l, true
}

// literal returns the item's literal value, or reports that it is not one.
func (p *parser) literal(item *ast.ObjectItem, key string) (token.Token, bool) {
	lit, ok := item.Val.(*ast.LiteralType)
	if !ok || len(item.Keys) != 1 {
		p.errorf(item.Keys[0].Pos(), key, "must be a single value, not a block or list")
		return token.Token{}, false
	}
	return lit.Token, true
}

func (p *parser) str(item *ast.ObjectItem, key string) string {
	tok, ok := p.literal(item, key)
	if !ok {
		return ""
	}
	if tok.Type != token.STRING {
		p.errorf(item.Keys[0].Pos(), key, "must be a string")
		return ""
	}
	s, _ := tok.Value().(string)
	return s
}

// boolean accepts true/false, "true"/"false" and 1/0, as Vault does.
func (p *parser) boolean(item *ast.ObjectItem, key string) bool {
	tok, ok := p.literal(item, key)
	if !ok {
		return false
	}
	switch tok.Type {
	case token.BOOL:
		b, _ := tok.Value().(bool)
		return b
	case token.STRING, token.NUMBER:
		s := tok.Text
		if v, ok := tok.Value().(string); ok {
			s = v
		}
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	}
	p.errorf(item.Keys[0].Pos(), key, "must be true or false")
	return false
}
