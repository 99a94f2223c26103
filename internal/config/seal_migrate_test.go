package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSealMigrationBlocks(t *testing.T) {
	const base = "storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\n"
	transit := &SealTransit{Address: "https://unsealer:8200", Token: "t", KeyName: "k"}
	tests := []struct {
		name         string
		src          string
		wantSeal     Seal
		wantDisabled *Seal
	}{
		{"one seal", base + "seal \"shamir\" {}\n", Seal{Type: "shamir"}, nil},
		{"disabled false is enabled", base + "seal \"shamir\" {\n disabled = \"false\"\n}\n", Seal{Type: "shamir"}, nil},
		{"shamir to transit", base + "seal \"shamir\" {\n disabled = \"true\"\n}\nseal \"transit\" {\n address = \"https://unsealer:8200\"\n token = \"t\"\n key_name = \"k\"\n}\n",
			Seal{Type: "transit", Transit: transit}, &Seal{Type: "shamir"}},
		{"transit to shamir, new block first", base + "seal \"shamir\" {}\nseal \"transit\" {\n address = \"https://unsealer:8200\"\n token = \"t\"\n key_name = \"k\"\n disabled = true\n}\n",
			Seal{Type: "shamir"}, &Seal{Type: "transit", Transit: transit}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("arca.hcl", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantSeal, got.Seal); diff != "" {
				t.Errorf("seal (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantDisabled, got.DisabledSeal); diff != "" {
				t.Errorf("disabled seal (-want +got):\n%s", diff)
			}
		})
	}
}
