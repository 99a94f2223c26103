package cli

import (
	"flag"
	"fmt"

	"github.com/openbao/openbao/api/v2"
)

// runStatus prints the seal status. Exit code: 0 unsealed, 2 sealed, 1
// error, as Vault's does.
func runStatus(e *env, args []string) int {
	var cf commonFlags
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	cf.register(fs)
	pos, ok := parseFlags(e, fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) > 0 {
		return usageError(e, "arca status takes no arguments")
	}
	if err := cf.validate(); err != nil {
		return usageError(e, "%v", err)
	}
	c, err := e.client(&cf)
	if err != nil {
		return apiError(e, "creating client", err)
	}
	st, err := c.Sys().SealStatus()
	if err != nil {
		return apiError(e, "checking seal status", err)
	}
	printSealStatus(e, cf.format, st)
	if st.Sealed {
		return 2
	}
	return exitOK
}

func printSealStatus(e *env, format string, st *api.SealStatusResponse) {
	if format == "json" {
		_ = printJSON(e.stdout, st)
		return
	}
	rows := []kvRow{
		{"Seal Type", st.Type},
		{"Initialized", fmt.Sprint(st.Initialized)},
		{"Sealed", fmt.Sprint(st.Sealed)},
		{"Total Shares", fmt.Sprint(st.N)},
		{"Threshold", fmt.Sprint(st.T)},
	}
	if st.Migration {
		rows = append(rows, kvRow{"Seal Migration in Progress", "true"})
	}
	if st.Sealed && st.Initialized {
		rows = append(rows, kvRow{"Unseal Progress", fmt.Sprintf("%d/%d", st.Progress, st.T)}, kvRow{"Unseal Nonce", st.Nonce})
	}
	rows = append(rows, kvRow{"Version", st.Version}, kvRow{"Storage Type", st.StorageType}, kvRow{"HA Enabled", "false"})
	printTable(e.stdout, rows)
}
