package cli

import (
	"flag"
	"fmt"
	"github.com/arca-secrets/arca/internal/ageshare"

	openbao "github.com/openbao/openbao/api/v2"
)

type rekeyFlags struct {
	init, cancel, status bool
	shares, threshold    int
	nonce                string
	ageRecipients        string
	ageIdentity          string
	// target is "barrier" (unseal key shares) or "recovery".
	target string
}

// runOperatorRekey replaces the unseal key shares: -init starts, then each
// holder of a current share runs it with -nonce (and the share, or at the
// prompt) until the threshold is reached and the new shares are printed.
func runOperatorRekey(e *env, args []string) int {
	var f rekeyFlags
	c, cf, pos, code := clientFor(e, "operator rekey", args, 0, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&f.init, "init", false, "start a rekey")
		fs.BoolVar(&f.cancel, "cancel", false, "cancel the rekey in progress")
		fs.BoolVar(&f.status, "status", false, "print the rekey in progress")
		fs.IntVar(&f.shares, "key-shares", 5, "number of new key shares (with -init)")
		fs.IntVar(&f.threshold, "key-threshold", 3, "number of new shares needed to unseal (with -init)")
		fs.StringVar(&f.nonce, "nonce", "", "nonce of the rekey in progress (printed by -init)")
		fs.StringVar(&f.ageRecipients, "age-recipients", "", "encrypt each new share to one age or SSH public key (a file of them, one a line, or a comma-separated list); give it to -init and to every share submission, since the last one prints the new shares")
		fs.StringVar(&f.ageIdentity, "age-identity", "", "decrypt an age-encrypted current share (the file named by the argument, or stdin) with the age or SSH identity in this file")
		fs.StringVar(&f.target, "target", "barrier", "barrier: the unseal key shares; recovery: the recovery key of a seal that unseals by itself")
	})
	if code >= 0 {
		return code
	}
	api := rekeyAPIFor(c, f.target)
	if api == nil {
		return usageError(e, "-target must be barrier or recovery, not %q", f.target)
	}
	switch {
	case f.init:
		if f.ageRecipients != "" {
			if _, err := ageshare.ParseRecipients(f.ageRecipients, f.shares); err != nil {
				return usageError(e, "%v", err)
			}
		}
		st, err := api.init(&openbao.RekeyInitRequest{SecretShares: f.shares, SecretThreshold: f.threshold})
		if err != nil {
			return apiError(e, "starting rekey", err)
		}
		printRekeyStatus(e, cf.format, st)
	case f.cancel:
		if err := api.cancel(); err != nil {
			return apiError(e, "canceling rekey", err)
		}
		fmt.Fprintln(e.stdout, "Success! Canceled rekeying (if it was started)")
	case f.status:
		st, err := api.status()
		if err != nil {
			return apiError(e, "reading rekey status", err)
		}
		printRekeyStatus(e, cf.format, st)
	default:
		st, err := api.status()
		if err != nil {
			return apiError(e, "reading rekey status", err)
		}
		if f.nonce == "" {
			if !st.Started {
				return usageError(e, "No rekey is in progress: start one with arca operator rekey -init")
			}
			f.nonce = st.Nonce
		}
		// The recipients are checked before the share is sent: this
		// submission may be the one that gets the new shares.
		var recips []ageshare.Recipient
		if f.ageRecipients != "" {
			if recips, err = ageshare.ParseRecipients(f.ageRecipients, st.N); err != nil {
				return usageError(e, "%v", err)
			}
		}
		key, err := readShareArg(e, pos, f.ageIdentity, "Unseal Key (will be hidden): ")
		if err != nil {
			return usageError(e, "Error reading unseal key: %v", err)
		}
		up, err := api.update(key, f.nonce)
		if err != nil {
			return apiError(e, "posting unseal key", err)
		}
		if !up.Complete {
			st, err := api.status()
			if err != nil {
				return apiError(e, "reading rekey status", err)
			}
			printRekeyStatus(e, cf.format, st)
			return exitOK
		}
		if recips != nil {
			return printRekeyAge(e, cf.format, up, recips)
		}
		if cf.format == "json" {
			_ = printJSON(e.stdout, up)
			return exitOK
		}
		for i, k := range up.KeysB64 {
			fmt.Fprintf(e.stdout, "Key %d: %s\n", i+1, k)
		}
		fmt.Fprintf(e.stdout, "\nArca unseal key rekeyed with %d key shares.\n", len(up.KeysB64))
		fmt.Fprintln(e.stdout, "Distribute the new shares: the old ones no longer unseal this server.")
	}
	return exitOK
}

func printRekeyStatus(e *env, format string, st *openbao.RekeyStatusResponse) {
	if format == "json" {
		_ = printJSON(e.stdout, st)
		return
	}
	printTable(e.stdout, []kvRow{
		{"Nonce", st.Nonce},
		{"Started", fmt.Sprint(st.Started)},
		{"Rekey Progress", fmt.Sprintf("%d/%d", st.Progress, st.Required)},
		{"New Shares", fmt.Sprint(st.N)},
		{"New Threshold", fmt.Sprint(st.T)},
	})
}

// rekeyAPI is the four rekey calls of one target: the unseal key shares
// (sys/rekey) or the recovery key (sys/rekey-recovery-key).
type rekeyAPI struct {
	init   func(*openbao.RekeyInitRequest) (*openbao.RekeyStatusResponse, error)
	cancel func() error
	status func() (*openbao.RekeyStatusResponse, error)
	update func(key, nonce string) (*openbao.RekeyUpdateResponse, error)
}

func rekeyAPIFor(c *openbao.Client, target string) *rekeyAPI {
	sys := c.Sys()
	switch target {
	case "barrier", "":
		return &rekeyAPI{sys.RekeyInit, sys.RekeyCancel, sys.RekeyStatus, sys.RekeyUpdate}
	case "recovery":
		return &rekeyAPI{sys.RekeyRecoveryKeyInit, sys.RekeyRecoveryKeyCancel, sys.RekeyRecoveryKeyStatus, sys.RekeyRecoveryKeyUpdate}
	}
	return nil
}
