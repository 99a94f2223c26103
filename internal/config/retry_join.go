package config

import (
	"net/url"

	"github.com/hashicorp/hcl/hcl/ast"
)

// RetryJoin is a retry_join block of storage "raft": a node to join the
// cluster through, tried until one answers.
type RetryJoin struct {
	// LeaderAPIAddr is the API URL of a node of the cluster (required).
	LeaderAPIAddr string
	// LeaderCACertFile verifies its API certificate; LeaderClientCertFile
	// and LeaderClientKeyFile are presented if its listener asks.
	LeaderCACertFile, LeaderClientCertFile, LeaderClientKeyFile string
}

func (p *parser) retryJoin(it *ast.ObjectItem, label string) (RetryJoin, bool) {
	label += ": retry_join"
	obj, ok := it.Val.(*ast.ObjectType)
	if !ok {
		p.errorf(it.Keys[0].Pos(), label, "must be a block")
		return RetryJoin{}, false
	}
	var rj RetryJoin
	for _, f := range obj.List.Items {
		switch k := keyName(f.Keys[0]); k {
		case "leader_api_addr":
			rj.LeaderAPIAddr = p.str(f, label+": leader_api_addr")
		case "leader_ca_cert_file":
			rj.LeaderCACertFile = p.str(f, label+": leader_ca_cert_file")
		case "leader_client_cert_file":
			rj.LeaderClientCertFile = p.str(f, label+": leader_client_cert_file")
		case "leader_client_key_file":
			rj.LeaderClientKeyFile = p.str(f, label+": leader_client_key_file")
		default:
			p.errorf(f.Keys[0].Pos(), label, "unknown key %q", k)
		}
	}
	if u, err := url.Parse(rj.LeaderAPIAddr); rj.LeaderAPIAddr == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.errorf(it.Keys[0].Pos(), label, "leader_api_addr must be an http or https URL")
		return RetryJoin{}, false
	}
	if (rj.LeaderClientCertFile == "") != (rj.LeaderClientKeyFile == "") {
		p.errorf(it.Keys[0].Pos(), label, "leader_client_cert_file and leader_client_key_file go together")
		return RetryJoin{}, false
	}
	return rj, true
}
