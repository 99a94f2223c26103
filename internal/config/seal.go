package config

import (
	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"
)

// sealTypes are the seal types a seal block may name.
const sealTypes = "shamir, pkcs11, transit"

// sealBlock is one seal block as written: its seal, whether it is marked
// disabled, and where it starts.
type sealBlock struct {
	seal     Seal
	disabled bool
	pos      token.Pos
}

// seals keeps the config's seal blocks: exactly one enabled, the seal in
// use, and at most one disabled, the seal a migration moves away from
// (Vault's form). Anything else is refused at the block that breaks it.
func (p *parser) seals(conf *Config, blocks []sealBlock) {
	var enabled, disabled []sealBlock
	for _, b := range blocks {
		if b.disabled {
			disabled = append(disabled, b)
		} else {
			enabled = append(enabled, b)
		}
	}
	switch {
	case len(enabled) > 1:
		p.errorf(enabled[1].pos, "seal", "only one enabled seal block is allowed (during a seal migration, mark the old seal disabled = \"true\")")
	case len(disabled) > 1:
		p.errorf(disabled[1].pos, "seal", "only one seal block may be disabled (the seal being migrated from)")
	case len(disabled) == 1 && len(enabled) == 0:
		p.errorf(disabled[0].pos, "seal", "a disabled seal needs an enabled seal block beside it to migrate to (the default Shamir seal is written seal \"shamir\" {})")
	case len(disabled) == 1 && disabled[0].seal.Type == enabled[0].seal.Type:
		p.errorf(disabled[0].pos, "seal", "the disabled and the enabled seal are both %q: seal migration is between seals of different types", enabled[0].seal.Type)
	}
	if len(enabled) > 0 {
		conf.Seal = enabled[0].seal
	}
	if len(disabled) == 1 && len(enabled) == 1 {
		old := disabled[0].seal
		conf.DisabledSeal = &old
	}
}

// seal parses seal "TYPE" { ... }, with disabled = "true" on the seal a
// migration moves away from. The Shamir seal takes no other settings: its
// shares and threshold are chosen at init.
func (p *parser) seal(item *ast.ObjectItem) sealBlock {
	sb := sealBlock{pos: item.Keys[0].Pos()}
	sb.seal = p.sealSettings(item, &sb.disabled)
	return sb
}

func (p *parser) sealSettings(item *ast.ObjectItem, disabled *bool) Seal {
	body, typ, ok := p.block(item, "seal")
	if !ok {
		return Seal{Type: "shamir"}
	}
	label := `seal "` + typ + `"`
	rest := &ast.ObjectList{}
	for _, it := range body.Items {
		if keyName(it.Keys[0]) == "disabled" {
			*disabled = p.boolean(it, label+": disabled")
			continue
		}
		rest.Add(it)
	}
	body = rest
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
