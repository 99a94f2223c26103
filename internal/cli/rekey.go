package cli

import (
	"flag"
	"fmt"
	"github.com/arca-secrets/arca/internal/ageshare"

	"github.com/openbao/openbao/api/v2"
)

type rekeyFlags struct {
	init, cancel, status bool
	shares, threshold    int
	nonce                string
	ageRecipients        string
	ageIdentity          string
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
	})
	if code >= 0 {
		return code
	}
	switch {
	case f.init:
		if f.ageRecipients != "" {
			if _, err := ageshare.ParseRecipients(f.ageRecipients, f.shares); err != nil {
				return usageError(e, "%v", err)
			}
		}
		st, err := c.Sys().RekeyInit(&api.RekeyInitRequest{SecretShares: f.shares, SecretThreshold: f.threshold})
		if err != nil {
			return apiError(e, "starting rekey", err)
		}
		printRekeyStatus(e, cf.format, st)
	case f.cancel:
		if err := c.Sys().RekeyCancel(); err != nil {
			return apiError(e, "canceling rekey", err)
		}
		fmt.Fprintln(e.stdout, "Success! Canceled rekeying (if it was started)")
	case f.status:
		st, err := c.Sys().RekeyStatus()
		if err != nil {
			return apiError(e, "reading rekey status", err)
		}
		printRekeyStatus(e, cf.format, st)
	default:
		st, err := c.Sys().RekeyStatus()
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
		up, err := c.Sys().RekeyUpdate(key, f.nonce)
		if err != nil {
			return apiError(e, "posting unseal key", err)
		}
		if !up.Complete {
			st, err := c.Sys().RekeyStatus()
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

func printRekeyStatus(e *env, format string, st *api.RekeyStatusResponse) {
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
