package raft

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"slices"
)

// A node moves to another cluster CA when a restored snapshot brings the
// CA of the cluster it was taken on (cluster.Node's ensureIdentity, as
// each node is unsealed). It keeps its previous certificate beside the
// new one until its next move: peers not yet moved (still sealed, or
// down during the restore) trust only the old CA, and the cluster would
// otherwise split as its nodes are unsealed one by one, leaving a node
// that missed the restore unable to catch up. A node trusts both CAs and
// presents to each peer the certificate that peer trusts: a dialing peer
// names the CAs it trusts in ALPN marks; a dialed peer's own certificate
// says which CA it holds. The membership check applies as ever.

// caMarkPrefix starts the ALPN marks that name a trusted CA; a server
// never selects them (it speaks protoRaft and protoForward only).
const caMarkPrefix = "arca-ca/"

func caMark(ca *x509.Certificate) string {
	sum := sha256.Sum256(ca.Raw)
	return caMarkPrefix + hex.EncodeToString(sum[:8])
}

// moved is next, keeping prev (the identity it replaces) as its
// previous one when prev was of another cluster CA; a certificate of a
// CA of this process alone (before the node first joined) is not kept.
func moved(next, prev *identity) *identity {
	if prev == nil || prev.ca == nil || next.ca == nil || prev.ca.Equal(next.ca) {
		return next
	}
	out := *next
	out.prev = &identity{cert: prev.cert, ca: prev.ca}
	out.pool = x509.NewCertPool()
	out.pool.AddCert(next.ca)
	out.pool.AddCert(prev.ca)
	return &out
}

// marks name the CAs id trusts, its own first.
func (id *identity) marks() []string {
	if id.ca == nil {
		return nil
	}
	m := []string{caMark(id.ca)}
	if id.prev != nil {
		m = append(m, caMark(id.prev.ca))
	}
	return m
}

// certForMarks is the certificate for a dialing peer whose ALPN list is
// protos: the previous one only if the peer trusts the previous CA and
// not the current one (a peer that sends no marks gets the current).
func (id *identity) certForMarks(protos []string) tls.Certificate {
	if id.prev != nil && !slices.Contains(protos, caMark(id.ca)) && slices.Contains(protos, caMark(id.prev.ca)) {
		return id.prev.cert
	}
	return id.cert
}

// certForPeer is the certificate for a dialed peer that presented leaf:
// the one of the CA that signed leaf.
func (id *identity) certForPeer(leaf *x509.Certificate) tls.Certificate {
	if id.prev != nil && leaf != nil && leaf.CheckSignatureFrom(id.prev.ca) == nil && (id.ca == nil || leaf.CheckSignatureFrom(id.ca) != nil) {
		return id.prev.cert
	}
	return id.cert
}
