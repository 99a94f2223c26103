package cli

import (
	"flag"
	"fmt"

	"github.com/openbao/openbao/api/v2"
)

type rekeyFlags struct {
	init, cancel, status bool
	shares, threshold    int
	nonce                string
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
	})
	if code >= 0 {
		return code
	}
	switch {
	case f.init:
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
		if f.nonce == "" {
			st, err := c.Sys().RekeyStatus()
			if err != nil {
				return apiError(e, "reading rekey status", err)
			}
			if !st.Started {
				return usageError(e, "No rekey is in progress: start one with arca operator rekey -init")
			}
			f.nonce = st.Nonce
		}
		key := ""
		if len(pos) == 1 {
			key = pos[0]
		} else {
			var err error
			if key, err = readSecret(e, "Unseal Key (will be hidden): "); err != nil {
				return usageError(e, "Error reading unseal key: %v", err)
			}
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
