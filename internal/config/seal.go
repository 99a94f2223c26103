package config

import "github.com/hashicorp/hcl/hcl/ast"

// sealTypes are the seal types a seal block may name.
const sealTypes = "shamir, pkcs11, transit"

// seal parses seal "TYPE" { ... }. The Shamir seal takes no settings: its
// shares and threshold are chosen at init.
func (p *parser) seal(item *ast.ObjectItem) Seal {
	body, typ, ok := p.block(item, "seal")
	if !ok {
		return Seal{Type: "shamir"}
	}
	label := `seal "` + typ + `"`
	switch typ {
	case "shamir":
		for _, it := range body.Items {
			p.errorf(it.Keys[0].Pos(), label, "unknown key %q (the shamir seal takes none: shares and threshold are chosen at init)", keyName(it.Keys[0]))
		}
	case "pkcs11":
		return Seal{Type: typ, PKCS11: p.pkcs11Seal(item.Keys[0].Pos(), body)}
	case "transit":
		return Seal{Type: typ, Transit: p.sealTransit(item, body)}
	default:
		p.errorf(item.Keys[1].Pos(), "seal", "unknown seal type %q (supported: %s)", typ, sealTypes)
	}
	return Seal{Type: typ}
}
