package cluster

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
	"github.com/arca-secrets/arca/storage/raft"
)

// The joiner's side. A new node asks a leader for a challenge, then
// waits for the operator's unseal keys (sys/unseal, as on any node).
// With a quorum it opens the root key from the challenge's seal
// configuration, the keyring with it, and the nonce with the keyring;
// it answers, receives its cluster certificate, replicates the
// cluster's data and only then unseals for real with the same keys. The
// keys never leave the node; the leader learns only that they are right.

// Leader is a node to join through: one retry_join block, or the body
// of sys/storage/raft/join.
type Leader struct {
	APIAddr string
	// CACert (PEM) verifies the leader's API certificate; none: the
	// system's roots. ClientCert and ClientKey (PEM) are presented to a
	// listener that asks for a client certificate.
	CACert, ClientCert, ClientKey []byte
}

// joinState is this node's join while it is under way.
type joinState struct {
	mu       sync.Mutex
	leader   *http.Client
	addr     string
	resp     *ChallengeResponse
	conf     *sealconf.Config
	nonVoter bool
	shares   secmem.Shares
	// busy: the answer is being given and the data replicated; further
	// keys are not wanted.
	busy bool
}

// joinTimeout bounds one exchange with a leader.
const joinTimeout = 30 * time.Second

// Join asks the first leader that answers for a challenge. With retry,
// it keeps trying in the background until one does (retry_join). It
// refuses on a node that already belongs to a cluster.
func (n *Node) Join(ctx context.Context, leaders []Leader, nonVoter, retry bool) error {
	if n.raft.HasState() {
		return raft.ErrHasState
	}
	if len(leaders) == 0 {
		return fmt.Errorf("%w: no leader address", ErrInvalid)
	}
	err := n.tryJoin(ctx, leaders, nonVoter)
	if err == nil || !retry {
		return err
	}
	n.log.Info("no leader answered the join yet; retrying in the background", "error", err)
	go n.RetryJoin(context.WithoutCancel(ctx), leaders, nonVoter)
	return nil
}

// retryEvery is the pause between rounds of join attempts.
const retryEvery = 2 * time.Second

// RetryJoin tries the leaders until one gives a challenge, the node
// joins by other means, or ctx ends.
func (n *Node) RetryJoin(ctx context.Context, leaders []Leader, nonVoter bool) {
	for {
		if n.raft.HasState() || n.joinPending() {
			return
		}
		err := n.tryJoin(ctx, leaders, nonVoter)
		if err == nil {
			n.log.Info("join: a leader gave a challenge; unseal this node with the cluster's unseal keys")
			return
		}
		n.log.Debug("join attempt failed", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryEvery):
		}
	}
}

func (n *Node) tryJoin(ctx context.Context, leaders []Leader, nonVoter bool) error {
	var errs []error
	for _, l := range leaders {
		client, err := leaderClient(l)
		if err != nil {
			return err
		}
		var resp ChallengeResponse
		err = postJSON(ctx, client, l.APIAddr, "sys/storage/raft/bootstrap/challenge", map[string]any{"server_id": n.raft.NodeID()}, &resp)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.APIAddr, err))
			continue
		}
		var conf sealconf.Config
		if err := json.Unmarshal(resp.SealConfig, &conf); err != nil {
			errs = append(errs, fmt.Errorf("%s: the seal configuration: %w", l.APIAddr, err))
			continue
		}
		if conf.Type != n.seal.Type() {
			return fmt.Errorf("%w: the cluster's seal is %q, this node's %q", ErrInvalid, conf.Type, n.seal.Type())
		}
		j := &n.join
		j.mu.Lock()
		j.shares.Destroy()
		j.leader, j.addr, j.resp, j.conf, j.nonVoter, j.busy = client, l.APIAddr, &resp, &conf, nonVoter, false
		j.shares = secmem.Shares{Mode: n.memory}
		j.mu.Unlock()
		if n.seal.AutoUnseal() {
			go func() {
				if err := n.finishJoin(context.WithoutCancel(ctx), nil); err != nil {
					n.log.Error("join with the auto-unseal seal failed", "error", err)
				}
			}()
		}
		return nil
	}
	return errors.Join(errs...)
}

func (n *Node) joinPending() bool {
	n.join.mu.Lock()
	defer n.join.mu.Unlock()
	return n.join.resp != nil
}

// JoinPending reports whether this node has a challenge and waits for
// the unseal keys that answer it.
func (n *Node) JoinPending() bool { return n.joinPending() && !n.raft.HasState() }

// JoinSealStatus is seal-status while joining: the cluster's seal and
// threshold, and the keys given so far.
func (n *Node) JoinSealStatus() core.SealStatus {
	j := &n.join
	j.mu.Lock()
	defer j.mu.Unlock()
	st := core.SealStatus{Type: n.seal.Type(), Sealed: true, StorageType: "raft"}
	if j.conf != nil {
		st.Initialized, st.Threshold, st.Shares, st.Progress = true, j.conf.Threshold, j.conf.Shares, j.shares.Len()
	}
	return st
}

// JoinUnseal takes one unseal key for the join. At the threshold it
// answers the challenge; the node then replicates and unseals by itself
// (seal-status shows when).
func (n *Node) JoinUnseal(ctx context.Context, share []byte) (core.SealStatus, error) {
	j := &n.join
	j.mu.Lock()
	if j.conf == nil {
		j.mu.Unlock()
		return core.SealStatus{}, ErrNoJoin
	}
	if j.busy {
		j.mu.Unlock()
		return n.JoinSealStatus(), nil
	}
	if _, err := j.shares.Add(share); err != nil {
		j.mu.Unlock()
		return core.SealStatus{}, err
	}
	if j.shares.Len() < j.conf.Threshold {
		j.mu.Unlock()
		return n.JoinSealStatus(), nil
	}
	j.busy = true
	shares := j.shares.Views()
	j.mu.Unlock()
	err := n.finishJoin(ctx, shares)
	if err != nil {
		j.mu.Lock()
		j.shares.Destroy()
		j.shares = secmem.Shares{Mode: n.memory}
		j.busy = false
		j.mu.Unlock()
		return n.JoinSealStatus(), err
	}
	return n.JoinSealStatus(), nil
}

// finishJoin answers the challenge with shares, takes the certificate,
// and in the background waits to replicate and unseals.
func (n *Node) finishJoin(ctx context.Context, shares [][]byte) error {
	j := &n.join
	j.mu.Lock()
	resp, conf, client, addr, nonVoter := j.resp, j.conf, j.leader, j.addr, j.nonVoter
	j.mu.Unlock()
	nonce, err := openChallenge(ctx, n, resp, conf, shares)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	var ans AnswerResponse
	err = postJSON(ctx, client, addr, "sys/storage/raft/bootstrap/answer", AnswerRequest{
		ServerID: n.raft.NodeID(), Answer: base64.StdEncoding.EncodeToString(nonce),
		ClusterAddr: n.clusterAddr, NonVoter: nonVoter, PublicKey: base64.StdEncoding.EncodeToString(pubDER),
	}, &ans)
	clear(nonce)
	if err != nil {
		return fmt.Errorf("answering the join challenge: %w", err)
	}
	ca, err := parsePEMCert(ans.TLS.CACert)
	if err != nil {
		return err
	}
	cert, err := parsePEMCert(ans.TLS.Cert)
	if err != nil {
		return err
	}
	if err := n.raft.SetIdentity(cert.Raw, key, ca); err != nil {
		return err
	}
	n.log.Info("joined the cluster; replicating its data before unsealing", "leader", addr)
	go n.unsealJoined(context.WithoutCancel(ctx), ans.Index)
	return nil
}

// replicateFor bounds how long a joined node waits for the data before
// it gives up unsealing by itself (the operator can unseal it again).
const replicateFor = 5 * time.Minute

// unsealJoined waits until the node has applied the leader's index at
// the answer, then unseals the core with the join's keys and forgets
// them.
func (n *Node) unsealJoined(ctx context.Context, index uint64) {
	j := &n.join
	defer func() {
		j.mu.Lock()
		j.shares.Destroy()
		j.resp, j.conf, j.busy = nil, nil, false
		j.mu.Unlock()
	}()
	wctx, cancel := context.WithTimeout(ctx, replicateFor)
	defer cancel()
	if err := n.raft.WaitApplied(wctx, index); err != nil {
		n.log.Error("a joined node did not replicate the cluster's data in time; unseal it again", "error", err)
		return
	}
	if n.seal.AutoUnseal() {
		return // the auto-unseal loop opens it
	}
	j.mu.Lock()
	shares := j.shares.Views()
	j.mu.Unlock()
	for _, s := range shares {
		st, err := n.core.Unseal(ctx, s)
		if err != nil {
			n.log.Error("unsealing a joined node", "error", err)
			return
		}
		if !st.Sealed {
			return
		}
	}
}

// openChallenge opens the nonce: the seal opens the root key (with the
// shares), the root key the keyring, the keyring the nonce, in a
// barrier of its own over memory.
func openChallenge(ctx context.Context, n *Node, resp *ChallengeResponse, conf *sealconf.Config, shares [][]byte) ([]byte, error) {
	root, err := n.seal.Unwrap(ctx, conf.SealedRootKey, shares)
	if err != nil {
		return nil, core.ErrUnsealFailed
	}
	defer clear(root)
	kr, err := base64.StdEncoding.DecodeString(resp.Keyring)
	if err != nil {
		return nil, fmt.Errorf("%w: keyring", ErrInvalid)
	}
	sealed, err := base64.StdEncoding.DecodeString(resp.Challenge)
	if err != nil {
		return nil, fmt.Errorf("%w: challenge", ErrInvalid)
	}
	mem := inmem.New()
	path := challengePath(n.raft.NodeID())
	if err := storage.WriteAll(ctx, mem, []*storage.Entry{{Key: barrier.KeyringPath, Value: kr}, {Key: path, Value: sealed}}, nil); err != nil {
		return nil, err
	}
	b := barrier.New(barrier.Config{Backend: mem, Memory: n.memory})
	if err := b.Unseal(ctx, root); err != nil {
		return nil, core.ErrUnsealFailed
	}
	defer b.Seal()
	e, err := b.Get(ctx, path)
	if err != nil || e == nil {
		return nil, fmt.Errorf("%w: the challenge does not open with the cluster's keyring", ErrInvalid)
	}
	return e.Value, nil
}

func parsePEMCert(s string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, fmt.Errorf("%w: no certificate in the answer", ErrInvalid)
	}
	return x509.ParseCertificate(b.Bytes)
}

// leaderClient is an HTTP client for a leader's API with l's TLS.
func leaderClient(l Leader) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(l.CACert) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(l.CACert) {
			return nil, fmt.Errorf("%w: leader_ca_cert holds no certificate", ErrInvalid)
		}
		tc.RootCAs = pool
	}
	if len(l.ClientCert) > 0 || len(l.ClientKey) > 0 {
		cert, err := tls.X509KeyPair(l.ClientCert, l.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("%w: leader client certificate: %v", ErrInvalid, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{Timeout: joinTimeout, Transport: &http.Transport{TLSClientConfig: tc}}, nil
}

// maxJoinAnswer bounds what is read from a leader.
const maxJoinAnswer = 1 << 20

func postJSON(ctx context.Context, c *http.Client, base, path string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/v1/"+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJoinAnswer))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Errors []string `json:"errors"`
		}
		_ = json.Unmarshal(data, &e)
		return fmt.Errorf("%s: %d %s", path, resp.StatusCode, strings.Join(e.Errors, "; "))
	}
	return json.Unmarshal(data, out)
}
