package cluster

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/storage"
)

// The active node's side of a join. A joiner asks for a challenge: a
// random nonce written through the barrier (so sealed under the current
// keyring term, bound to its path), handed out as ciphertext together
// with the seal configuration and the keyring as stored (both already
// ciphertext under the unseal key). Only someone holding a quorum of the
// unseal keys can open the root key, then the keyring, then the nonce.
// The joiner's answer is the nonce; a right answer adds it to the
// cluster and signs its cluster certificate.

// challengeTTL bounds how long a challenge can be answered; maxChallenges
// bounds how many are outstanding (the endpoint takes no token).
// Each challenge is a write to the replicated log by a caller with no
// token, so issuing is also bounded in rate: maxIssued a minute.
const (
	challengeTTL  = 5 * time.Minute
	maxChallenges = 32
	maxIssued     = 64
	nonceSize     = 32
)

type challenge struct {
	nonce   []byte
	expires time.Time
}

type challenges struct {
	mu      sync.Mutex
	entries map[string]challenge
	issued  []time.Time // issue times within the last minute
}

// serverIDPattern: a Raft server id as the config's node_id allows.
var serverIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// challengePath is where a join nonce is written, inside the barrier.
func challengePath(serverID string) string { return "sys/cluster/join/" + serverID }

// ChallengeResponse is sys/storage/raft/bootstrap/challenge's answer.
type ChallengeResponse struct {
	// Challenge is the nonce as the barrier stored it (base64).
	Challenge string `json:"challenge"`
	// SealConfig is the stored seal configuration (JSON).
	SealConfig json.RawMessage `json:"seal_config"`
	// Keyring is the keyring as stored, sealed by the root key (base64).
	Keyring string `json:"keyring"`
}

// Challenge gives serverID a challenge; only the active node can.
func (n *Node) Challenge(ctx context.Context, serverID string) (*ChallengeResponse, error) {
	if !serverIDPattern.MatchString(serverID) {
		return nil, fmt.Errorf("%w: server_id must be 1-64 letters, digits, '.', '_' or '-'", ErrInvalid)
	}
	if !n.core.Active() {
		return nil, ErrNotActive
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	now := n.now()
	n.challenges.mu.Lock()
	for id, c := range n.challenges.entries {
		if now.After(c.expires) {
			delete(n.challenges.entries, id)
		}
	}
	recent := n.challenges.issued[:0]
	for _, at := range n.challenges.issued {
		if now.Sub(at) < time.Minute {
			recent = append(recent, at)
		}
	}
	n.challenges.issued = recent
	_, renewing := n.challenges.entries[serverID]
	if (!renewing && len(n.challenges.entries) >= maxChallenges) || len(recent) >= maxIssued {
		n.challenges.mu.Unlock()
		return nil, fmt.Errorf("%w: too many joins under way; retry later", ErrInvalid)
	}
	n.challenges.issued = append(n.challenges.issued, now)
	n.challenges.entries[serverID] = challenge{nonce: nonce, expires: now.Add(challengeTTL)}
	n.challenges.mu.Unlock()

	st, err := n.core.ClusterStorage()
	if err != nil {
		return nil, err
	}
	path := challengePath(serverID)
	if err := st.Put(ctx, &storage.Entry{Key: "join/" + serverID, Value: nonce}); err != nil {
		return nil, err
	}
	sealed, err := n.raft.Get(ctx, path)
	if err != nil || sealed == nil {
		return nil, fmt.Errorf("cluster: reading back the sealed challenge: %v", err)
	}
	conf, err := n.raft.Get(ctx, sealconf.Path)
	if err != nil || conf == nil {
		return nil, fmt.Errorf("cluster: reading the seal configuration: %v", err)
	}
	kr, err := n.raft.Get(ctx, barrier.KeyringPath)
	if err != nil || kr == nil {
		return nil, fmt.Errorf("cluster: reading the keyring: %v", err)
	}
	return &ChallengeResponse{
		Challenge:  base64.StdEncoding.EncodeToString(sealed.Value),
		SealConfig: json.RawMessage(conf.Value),
		Keyring:    base64.StdEncoding.EncodeToString(kr.Value),
	}, nil
}

// AnswerRequest is sys/storage/raft/bootstrap/answer's body.
type AnswerRequest struct {
	ServerID    string `json:"server_id"`
	Answer      string `json:"answer"`       // the nonce, base64
	ClusterAddr string `json:"cluster_addr"` // where the leader reaches the joiner
	NonVoter    bool   `json:"non_voter"`
	// PublicKey is the joiner's key for its cluster certificate (PKIX,
	// base64): its private key never leaves it.
	PublicKey string `json:"public_key"`
}

// AnswerResponse is what a joiner that proved the keys receives.
type AnswerResponse struct {
	Peers []PeerJSON `json:"peers"`
	TLS   struct {
		CACert string `json:"ca_cert"`
		Cert   string `json:"cert"`
	} `json:"tls"`
	// Index is the leader's applied index: the joiner unseals once it
	// has applied as much.
	Index uint64 `json:"index"`
}

// PeerJSON is a peer as the join answer lists it.
type PeerJSON struct {
	ID      string `json:"server_id"`
	Address string `json:"address"`
}

// Answer checks a joiner's answer and, if it is right, adds the joiner
// to the cluster (first as a non-voter, promoted once it replicates)
// and signs its certificate.
func (n *Node) Answer(ctx context.Context, req AnswerRequest) (*AnswerResponse, error) {
	if !serverIDPattern.MatchString(req.ServerID) {
		return nil, fmt.Errorf("%w: bad server_id", ErrInvalid)
	}
	addr, err := hostPort(req.ClusterAddr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	answer, err := base64.StdEncoding.DecodeString(req.Answer)
	if err != nil {
		return nil, fmt.Errorf("%w: answer must be base64", ErrInvalid)
	}
	der, err := base64.StdEncoding.DecodeString(req.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: public_key must be base64", ErrInvalid)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: public_key: %v", ErrInvalid, err)
	}
	if !n.core.Active() {
		return nil, ErrNotActive
	}
	n.challenges.mu.Lock()
	c, ok := n.challenges.entries[req.ServerID]
	delete(n.challenges.entries, req.ServerID) // one answer per challenge
	n.challenges.mu.Unlock()
	if st, err := n.core.ClusterStorage(); err == nil {
		_ = st.Delete(ctx, "join/"+req.ServerID)
	}
	if !ok || n.now().After(c.expires) || subtle.ConstantTimeCompare(c.nonce, answer) != 1 {
		return nil, ErrJoinRefused
	}
	st, err := n.core.ClusterStorage()
	if err != nil {
		return nil, err
	}
	ca, err := ensureCA(ctx, st)
	if err != nil {
		return nil, err
	}
	host, err := hostOf(addr)
	if err != nil {
		return nil, err
	}
	certDER, err := ca.Issue(req.ServerID, pub, []string{host})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := n.raft.AddNonvoter(req.ServerID, addr); err != nil {
		return nil, err
	}
	if !req.NonVoter {
		go n.promote(req.ServerID, addr)
	}
	n.log.Info("a node joined the cluster", "server_id", req.ServerID, "address", addr)
	out := &AnswerResponse{Index: n.raft.AppliedIndex()}
	out.TLS.CACert, out.TLS.Cert = pemCert(ca.Cert.Raw), pemCert(certDER)
	peers, _ := n.raft.Peers()
	for _, p := range peers {
		out.Peers = append(out.Peers, PeerJSON{ID: p.ID, Address: p.Address})
	}
	return out, nil
}

// promoteFor bounds how long a new node may take to start replicating
// before it is left a non-voter (list-peers shows it so).
const promoteFor = 2 * time.Minute

// promote makes a joined non-voter a voter. Adding it as a voter at
// once would make every write wait for a node that has only just got
// its certificate.
func (n *Node) promote(id, addr string) {
	deadline := n.now().Add(promoteFor)
	for n.now().Before(deadline) {
		if err := n.raft.AddVoter(id, addr); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond) // retrying a membership change, not synchronising a test
	}
	n.log.Warn("a joined node was left a non-voter: it did not replicate in time", "server_id", id)
}
