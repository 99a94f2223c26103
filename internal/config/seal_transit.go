package config

import (
	"net/url"

	"github.com/hashicorp/hcl/hcl/ast"
)

// SealTransit is a seal "transit" block: the root key is protected by a
// key of another server's transit engine (Arca, Vault or OpenBao).
type SealTransit struct {
	// Address is the transit server's URL (required).
	Address string
	// Token authenticates to it. Empty: the server reads ARCA_TOKEN, then
	// VAULT_TOKEN, from its environment.
	Token string
	// MountPath is the transit engine's mount; empty means "transit".
	MountPath string
	// KeyName is the transit key (required).
	KeyName string
	// TLSCACert, TLSClientCert and TLSClientKey are PEM files;
	// TLSServerName is the name expected in the server's certificate;
	// TLSSkipVerify accepts any certificate (never in production).
	TLSCACert, TLSClientCert, TLSClientKey, TLSServerName string
	TLSSkipVerify                                         bool
	// DisableRenewal stops the server from renewing the token.
	DisableRenewal bool
}

// sealTransit parses the body of seal "transit" { ... }.
func (p *parser) sealTransit(item *ast.ObjectItem, body *ast.ObjectList) *SealTransit {
	const label = `seal "transit"`
	st := &SealTransit{}
	strs := map[string]*string{
		"address": &st.Address, "token": &st.Token, "mount_path": &st.MountPath, "key_name": &st.KeyName,
		"tls_ca_cert": &st.TLSCACert, "tls_client_cert": &st.TLSClientCert, "tls_client_key": &st.TLSClientKey,
		"tls_server_name": &st.TLSServerName,
	}
	bools := map[string]*bool{"tls_skip_verify": &st.TLSSkipVerify, "disable_renewal": &st.DisableRenewal}
	addrPos := item.Keys[0].Pos()
	for _, it := range body.Items {
		k := keyName(it.Keys[0])
		if k == "address" {
			addrPos = it.Keys[0].Pos()
		}
		if s, ok := strs[k]; ok {
			*s = p.str(it, label+": "+k)
		} else if b, ok := bools[k]; ok {
			*b = p.boolean(it, label+": "+k)
		} else {
			p.errorf(it.Keys[0].Pos(), label, "unknown key %q", k)
		}
	}
	pos := item.Keys[0].Pos()
	if u, err := url.Parse(st.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.errorf(addrPos, label+": address", "is required and must be an http:// or https:// URL, got %q", st.Address)
	}
	if st.KeyName == "" {
		p.errorf(pos, label+": key_name", "is required: the name of the transit key that protects the root key")
	}
	if (st.TLSClientCert == "") != (st.TLSClientKey == "") {
		p.errorf(pos, label, "tls_client_cert and tls_client_key go together: set both or neither")
	}
	return st
}
