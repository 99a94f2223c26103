package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/raft"
)

// caKey is the cluster CA's entry under sys/cluster/ in the barrier:
// one CA for the whole cluster, replicated like any secret and readable
// only by an unsealed node.
const caKey = "tls/ca"

type storedCA struct {
	Cert []byte `json:"cert"` // DER
	Key  []byte `json:"key"`  // PKCS#8 DER
}

// errNoCA: the barrier holds no cluster CA yet (the active node makes
// it).
var errNoCA = errors.New("cluster: no cluster CA yet")

// readCA reads the cluster CA from st (the barrier's sys/cluster/ view).
func readCA(ctx context.Context, st storage.Backend) (*raft.CA, error) {
	e, err := st.Get(ctx, caKey)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, errNoCA
	}
	var s storedCA
	if err := json.Unmarshal(e.Value, &s); err != nil {
		return nil, fmt.Errorf("cluster: decoding the cluster CA: %w", err)
	}
	cert, err := x509.ParseCertificate(s.Cert)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(s.Key)
	if err != nil {
		return nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("cluster: the cluster CA key is not ECDSA")
	}
	return &raft.CA{Cert: cert, Key: key}, nil
}

// caMu makes "read, or make and store" one step on this node: a join
// answer and the role watcher may both want the CA at once.
var caMu sync.Mutex

// ensureCA reads the cluster CA, making and storing one if there is
// none (only the active node can write).
func ensureCA(ctx context.Context, st storage.Backend) (*raft.CA, error) {
	caMu.Lock()
	defer caMu.Unlock()
	ca, err := readCA(ctx, st)
	if !errors.Is(err, errNoCA) {
		return ca, err
	}
	if ca, err = raft.NewCA(); err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(storedCA{Cert: ca.Cert.Raw, Key: keyDER})
	if err != nil {
		return nil, err
	}
	if err := st.Put(ctx, &storage.Entry{Key: caKey, Value: raw}); err != nil {
		return nil, fmt.Errorf("cluster: storing the cluster CA: %w", err)
	}
	return ca, nil
}

// issueSelf gives node a certificate of ca for a fresh key of its own.
func issueSelf(node *raft.Node, ca *raft.CA, clusterAddr string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	host, err := hostOf(clusterAddr)
	if err != nil {
		return err
	}
	der, err := ca.Issue(node.NodeID(), &key.PublicKey, []string{host})
	if err != nil {
		return err
	}
	return node.SetIdentity(der, key, ca.Cert)
}

// hostOf is the host of a cluster address, given as a URL
// ("https://10.0.0.1:8201") or as host:port.
func hostOf(addr string) (string, error) {
	hp, err := hostPort(addr)
	if err != nil {
		return "", err
	}
	host, _, err := net.SplitHostPort(hp)
	return host, err
}

// hostPort is the host:port of a cluster address.
func hostPort(addr string) (string, error) {
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("cluster address %q: no host:port", addr)
		}
		addr = u.Host
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("cluster address %q: %w", addr, err)
	}
	return addr, nil
}

func pemCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
