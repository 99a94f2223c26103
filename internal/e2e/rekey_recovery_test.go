package e2e

import (
	"encoding/json"
	"testing"
)

// TestRekeyRecoveryKeysThroughTheCLI: a server with a PKCS#11 seal
// rekeys its recovery keys with arca operator rekey -target=recovery: a
// quorum of the current recovery shares gives new ones; the old shares no
// longer authorise (a second rekey with them is refused), the new ones
// do; the barrier target is refused with a clear message.
func TestRekeyRecoveryKeysThroughTheCLI(t *testing.T) {
	s := newPKCS11Server(t)
	c := s.start(s.tk.PIN)
	env := []string{"ARCA_ADDR=http://" + s.addr}
	r := arca(t, env, "", "operator", "init", "-recovery-shares=3", "-recovery-threshold=2", "-format=json")
	r.must(t, 0)
	var init struct {
		RecoveryKeys []string `json:"recovery_keys_b64"`
		RootToken    string   `json:"root_token"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &init); err != nil {
		t.Fatalf("init output: %v\n%s", err, r.stdout)
	}
	waitUnsealed(t, c)
	env = append(env, "ARCA_TOKEN="+init.RootToken)

	arca(t, env, "", "operator", "rekey", "-init", "-key-shares=2", "-key-threshold=2").must(t, 1, "rekey its recovery keys at sys/rekey-recovery-key")

	rekey := func(shares []string) cliResult {
		t.Helper()
		arca(t, env, "", "operator", "rekey", "-target=recovery", "-init", "-key-shares=4", "-key-threshold=3").must(t, 0, "Nonce")
		var last cliResult
		for _, k := range shares {
			last = arca(t, env, "", "operator", "rekey", "-target=recovery", "-format=json", k)
		}
		return last
	}
	done := rekey(init.RecoveryKeys[:2])
	done.must(t, 0)
	var up struct {
		Complete bool     `json:"complete"`
		Keys     []string `json:"keys_base64"`
	}
	if err := json.Unmarshal([]byte(done.stdout), &up); err != nil || !up.Complete || len(up.Keys) != 4 {
		t.Fatalf("recovery rekey: %+v, %v\n%s", up, err, done.stdout)
	}
	// The old shares no longer authorise a rekey; the new ones do.
	rekey(init.RecoveryKeys).must(t, 1, "do not combine")
	arca(t, env, "", "operator", "rekey", "-target=recovery", "-cancel").must(t, 0)
	rekey(up.Keys[1:4]).must(t, 0, `"complete": true`)
}
