package e2e

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

func TestUnknownSealTypeRefusedAtStart(t *testing.T) {
	conf := writeConfig(t, freeAddr(t), `storage "inmem" {}`, `seal "awskms" {}`)
	code, out := runArca(t, exec.Command(arcaBin, "server", "-config="+conf))
	if code == 0 {
		t.Fatalf("arca started with an unknown seal type:\n%s", out)
	}
	for _, want := range []string{"arca.hcl:6:", `seal: unknown seal type "awskms" (supported: shamir, pkcs11, transit)`} {
		if !strings.Contains(out, want) {
			t.Errorf("error output lacks %q:\n%s", want, out)
		}
	}
}

func TestShamirSealBlock(t *testing.T) {
	addr := freeAddr(t)
	conf := writeConfig(t, addr, `storage "inmem" {}`, `seal "shamir" {}`, "disable_mlock = true")
	startArca(t, addr, "-config="+conf)
	c := newClient(t, addr, "")

	// Recovery keys belong to seals that unseal by themselves.
	code, body := rawRequest(t, addr, "", http.MethodPut, "/v1/sys/init", strings.NewReader(`{"secret_shares":3,"secret_threshold":2,"recovery_shares":3,"recovery_threshold":2}`))
	if code != http.StatusBadRequest || !strings.Contains(body, "recovery keys are not supported by this seal (shamir)") {
		t.Fatalf("init with recovery shares: got %d %s, want 400 saying the seal does not support them", code, body)
	}
	init, err := c.Sys().Init(&api.InitRequest{SecretShares: 3, SecretThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	st := unseal(t, c, init.Keys[0], init.KeysB64[2])
	if st.Sealed || st.Type != "shamir" || st.RecoverySeal || st.T != 2 || st.N != 3 {
		t.Fatalf("seal status: sealed=%v type=%q recovery_seal=%v t=%d n=%d; want false, shamir, false, 2, 3", st.Sealed, st.Type, st.RecoverySeal, st.T, st.N)
	}
}
