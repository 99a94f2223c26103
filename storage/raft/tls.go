package raft

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"
)

// The cluster port speaks only mutually authenticated TLS 1.3: a peer
// must present a certificate the cluster CA signed, and so must the node
// to its peers. Anyone else who reaches the port cannot append to the
// log, vote, install a snapshot or have a request forwarded. Two
// protocols share the port, told apart by ALPN: Raft's RPCs, and
// requests a standby forwards to the active node (ForwardListener).

const (
	protoRaft    = "arca-raft/1"
	protoForward = "arca-forward/1"
)

// handshakeTimeout bounds a peer's TLS handshake, so a silent one holds
// no goroutine for long.
const handshakeTimeout = 10 * time.Second

// ErrNotMember: a peer presented a certificate of the cluster CA whose
// node is not (or no longer) in the cluster's configuration.
var ErrNotMember = errors.New("raft storage: the peer is not a member of this cluster")

// identity is a node's certificate and the CA it trusts; swapped whole.
type identity struct {
	cert tls.Certificate
	pool *x509.CertPool
	// ca is the cluster CA; nil for a process-ephemeral one (Config.TLS).
	ca *x509.Certificate
	// prev is the certificate and CA this identity replaced, when a
	// restore moved the node to another cluster CA (tls_move.go); pool
	// trusts both.
	prev *identity
}

func newIdentity(cert tls.Certificate, ca *x509.Certificate) *identity {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &identity{cert: cert, pool: pool, ca: ca}
}

// tlsStream is a hraft.StreamLayer over TLS with client certificates,
// which also hands forwarded-request connections to its own listener.
type tlsStream struct {
	ln        net.Listener
	advertise net.Addr
	id        atomic.Pointer[identity]
	// member says whether a node id may talk to this node (nil: any
	// holder of a cluster certificate).
	member atomic.Pointer[func(id string) bool]

	raftConns chan net.Conn
	fwd       *chanListener
	done      chan struct{}
	closeOnce sync.Once
}

var _ hraft.StreamLayer = (*tlsStream)(nil)

func newTLSStream(bind, advertise string, id *identity) (*tlsStream, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	s := &tlsStream{ln: ln, advertise: ln.Addr(), raftConns: make(chan net.Conn, 16), done: make(chan struct{})}
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			ln.Close()
			return nil, err
		}
		s.advertise = a
	}
	s.fwd = &chanListener{conns: make(chan net.Conn, 16), done: s.done, addr: ln.Addr()}
	s.id.Store(id)
	go s.acceptLoop()
	return s, nil
}

// setIdentity swaps the node's certificate and trusted CA; connections
// made from now on use them.
func (s *tlsStream) setIdentity(id *identity) { s.id.Store(id) }

// verifyPeer refuses a peer whose certificate names no member.
func (s *tlsStream) verifyPeer(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return ErrNotMember
	}
	// Certificates that name their node come only from a cluster CA;
	// with TLS given in Config (tests, a cluster of one) there is no
	// name to check.
	if s.id.Load().ca == nil {
		return nil
	}
	if m := s.member.Load(); m != nil && !(*m)(cs.PeerCertificates[0].Subject.CommonName) {
		return fmt.Errorf("%w: %q", ErrNotMember, cs.PeerCertificates[0].Subject.CommonName)
	}
	return nil
}

func (s *tlsStream) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{protoRaft, protoForward},
		ClientAuth: tls.RequireAndVerifyClientCert,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			id := s.id.Load()
			return &tls.Config{
				MinVersion: tls.VersionTLS13, NextProtos: []string{protoRaft, protoForward},
				ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: id.pool,
				Certificates: []tls.Certificate{id.certForMarks(hello.SupportedProtos)}, VerifyConnection: s.verifyPeer,
			}, nil
		},
	}
}

func (s *tlsStream) clientConfig(host, proto string) *tls.Config {
	id := s.id.Load()
	// The server's certificate, verified before ours is asked for, says
	// which of ours it trusts.
	var peer atomic.Pointer[x509.Certificate]
	return &tls.Config{
		MinVersion: tls.VersionTLS13, NextProtos: append([]string{proto}, id.marks()...), ServerName: host,
		RootCAs: id.pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c := id.certForPeer(peer.Load())
			return &c, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) > 0 {
				peer.Store(cs.PeerCertificates[0])
			}
			return s.verifyPeer(cs)
		},
	}
}

// acceptLoop accepts TCP connections and hands each, once its TLS
// handshake is done, to Raft or to the forwarding listener by its ALPN
// protocol. A failed handshake closes the connection: the peer gets
// nothing.
func (s *tlsStream) acceptLoop() {
	conf := s.serverConfig()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.Close()
			return
		}
		go func() {
			tc := tls.Server(c, conf)
			ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
			defer cancel()
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return
			}
			var conn net.Conn = tc
			out := s.raftConns
			if tc.ConnectionState().NegotiatedProtocol == protoForward {
				// Hidden from net/http, which would take the ALPN name
				// for a protocol it must hand over, and close.
				conn, out = opaqueConn{tc}, s.fwd.conns
			}
			select {
			case out <- conn:
			case <-s.done:
				c.Close()
			}
		}()
	}
}

func (s *tlsStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.raftConns:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

func (s *tlsStream) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.ln.Close()
	})
	return nil
}

// Addr is the address other nodes reach this one at (Raft records it
// in the configuration).
func (s *tlsStream) Addr() net.Addr { return s.advertise }

// Dial connects to a peer's Raft RPCs; the peer must prove it belongs to
// the cluster.
func (s *tlsStream) Dial(address hraft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.dial(ctx, string(address), protoRaft)
}

func (s *tlsStream) dial(ctx context.Context, address, proto string) (net.Conn, error) {
	if proto == protoForward && address == s.advertise.String() {
		// A request forwarded to this very node (it won an election
		// while the request waited for one) needs no network, and must
		// not fail while the node swaps its certificate.
		return s.pipeToSelf(ctx)
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{}, Config: s.clientConfig(host, proto)}
	return d.DialContext(ctx, "tcp", address)
}

// pipeToSelf hands one end of an in-memory connection to the forwarding
// listener and returns the other.
func (s *tlsStream) pipeToSelf(ctx context.Context) (net.Conn, error) {
	mine, theirs := net.Pipe()
	select {
	case s.fwd.conns <- theirs:
		return mine, nil
	case <-ctx.Done():
	case <-s.done:
	}
	mine.Close()
	theirs.Close()
	return nil, errors.Join(ctx.Err(), net.ErrClosed)
}

// opaqueConn is a TLS connection that does not say so.
type opaqueConn struct{ net.Conn }

// chanListener is a net.Listener fed connections by the accept loop.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	addr  net.Addr
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error   { return nil }
func (l *chanListener) Addr() net.Addr { return l.addr }

// ClusterTLS makes a cluster CA and, from it, a certificate for each of
// hosts (IP addresses or names), valid for a year: the mutual TLS of a
// cluster's Raft port. The CA key is not kept. A node opened without
// TLS uses one of these until the cluster's own CA (kept in the barrier)
// gives it a certificate.
func ClusterTLS(hosts ...string) (*tls.Config, error) {
	ca, err := NewCA()
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafDER, err := ca.Issue("arca raft node", &key.PublicKey, hosts)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}},
		ClientCAs:    pool, RootCAs: pool,
	}, nil
}

// CA is a cluster's certificate authority: the one CA every node's
// cluster certificate comes from.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// caValidity and leafValidity: a CA outlives the nodes it certifies.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 5 * 365 * 24 * time.Hour
)

// NewCA makes a fresh cluster CA.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serialNumber(), Subject: pkix.Name{CommonName: "arca cluster CA"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(caValidity),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue signs a node certificate for pub, naming the node (its Raft
// server id) in the common name, which the membership check reads, and
// hosts (the address peers dial) as its names.
func (ca *CA) Issue(nodeID string, pub any, hosts []string) ([]byte, error) {
	now := time.Now()
	leaf := &x509.Certificate{
		SerialNumber: serialNumber(), Subject: pkix.Name{CommonName: nodeID},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(leafValidity),
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
	return x509.CreateCertificate(rand.Reader, leaf, ca.Cert, pub, ca.Key)
}

func serialNumber() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}
