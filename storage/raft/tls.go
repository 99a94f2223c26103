package raft

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"time"

	hraft "github.com/hashicorp/raft"
)

// The Raft port speaks only mutually authenticated TLS: a peer must
// present a certificate the node's cluster CA signed, and so must the
// node to its peers. Anyone else who reaches the port cannot append to
// the log, vote, or install a snapshot.

// tlsStream is a hraft.StreamLayer over TLS with client certificates.
type tlsStream struct {
	ln   net.Listener
	conf *tls.Config
}

var _ hraft.StreamLayer = (*tlsStream)(nil)

func newTLSStream(bind string, conf *tls.Config) (*tlsStream, error) {
	if conf == nil || len(conf.Certificates) == 0 || conf.ClientCAs == nil || conf.RootCAs == nil {
		return nil, errors.New("raft storage: the cluster TLS configuration needs a certificate and the cluster CA")
	}
	conf = conf.Clone()
	conf.ClientAuth = tls.RequireAndVerifyClientCert
	conf.MinVersion = tls.VersionTLS13
	ln, err := tls.Listen("tcp", bind, conf)
	if err != nil {
		return nil, err
	}
	return &tlsStream{ln: ln, conf: conf}, nil
}

func (s *tlsStream) Accept() (net.Conn, error) { return s.ln.Accept() }
func (s *tlsStream) Close() error              { return s.ln.Close() }
func (s *tlsStream) Addr() net.Addr            { return s.ln.Addr() }

// Dial connects to a peer, which must prove it belongs to the cluster.
func (s *tlsStream) Dial(address hraft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	conf := s.conf.Clone()
	host, _, err := net.SplitHostPort(string(address))
	if err != nil {
		return nil, err
	}
	conf.ServerName = host
	return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(address), conf)
}

// ClusterTLS makes a cluster CA and, from it, a certificate for each of
// hosts (IP addresses or names), valid for a year: the mutual TLS of a
// cluster's Raft port. The CA key is not kept.
func ClusterTLS(hosts ...string) (*tls.Config, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: serialNumber(), Subject: pkix.Name{CommonName: "arca raft cluster CA"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: serialNumber(), Subject: pkix.Name{CommonName: "arca raft node"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			leaf.IPAddresses = append(leaf.IPAddresses, ip)
		} else {
			leaf.DNSNames = append(leaf.DNSNames, h)
		}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}},
		ClientCAs:    pool, RootCAs: pool,
	}, nil
}

func serialNumber() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}
