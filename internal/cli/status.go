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
	if cf.format == "json" || st.Sealed {
		printSealStatus(e, cf.format, st)
	} else {
		// An unsealed node says who is active, as vault status does.
		ha, err := c.Sys().Leader()
		if err != nil {
			return apiError(e, "reading the active node", err)
		}
		printStatusRows(e, st, haRows(ha))
	}
	if st.Sealed {
		return 2
	}
	return exitOK
}

// haRows are status's lines about the cluster (HA Enabled false for a
// node alone).
func haRows(ha *api.LeaderResponse) []kvRow {
	if !ha.HAEnabled {
		return []kvRow{{"HA Enabled", "false"}}
	}
	mode := map[bool]string{true: "active", false: "standby"}[ha.IsSelf]
	return []kvRow{{"HA Enabled", "true"}, {"HA Mode", mode}, {"Active Node Address", ha.LeaderAddress},
		{"Raft Committed Index", fmt.Sprint(ha.RaftCommittedIndex)}, {"Raft Applied Index", fmt.Sprint(ha.RaftAppliedIndex)}}
}

func printSealStatus(e *env, format string, st *api.SealStatusResponse) {
	if format == "json" {
		_ = printJSON(e.stdout, st)
		return
	}
	printStatusRows(e, st, []kvRow{{"HA Enabled", "false"}})
}

func printStatusRows(e *env, st *api.SealStatusResponse, ha []kvRow) {
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
	rows = append(rows, kvRow{"Version", st.Version}, kvRow{"Storage Type", st.StorageType})
	printTable(e.stdout, append(rows, ha...))
}
