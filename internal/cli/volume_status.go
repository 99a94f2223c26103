package cli

import (
	"context"
	"fmt"
	"github.com/arca-secrets/arca/internal/luks"
	"slices"
	"strings"
)

// volumeStatus is what arca volume status reports: the header's keyslots
// and arca tokens, and for each token what the server says of its volume.
type volumeStatus struct {
	Device   string        `json:"device"`
	Keyslots []int         `json:"keyslots"`
	Tokens   []tokenStatus `json:"arca_tokens"`
	// RecoverySlot is the keyslot that recovery shares open, or -1.
	RecoverySlot int `json:"recovery_keyslot"`
}

type tokenStatus struct {
	ID         int            `json:"token_id"`
	Error      string         `json:"error,omitempty"`
	Keyslot    string         `json:"keyslot,omitempty"`
	SlotExists bool           `json:"keyslot_exists"`
	Address    string         `json:"address,omitempty"`
	Mount      string         `json:"mount,omitempty"`
	Volume     string         `json:"volume,omitempty"`
	KeyVersion string         `json:"key_version,omitempty"`
	Server     map[string]any `json:"server,omitempty"`
	ServerErr  string         `json:"server_error,omitempty"`
}

func runVolumeStatus(e *env, args []string) int {
	v, code := parseVolume(e, "volume status", args, true, false, nil)
	if code >= 0 {
		return code
	}
	ctx := context.Background()
	meta, err := v.dev.Metadata(ctx)
	if err != nil {
		return apiError(e, "reading "+v.dev.Path, err)
	}
	st := volumeStatus{Device: v.dev.Path, Keyslots: meta.Slots(), Tokens: []tokenStatus{}, RecoverySlot: luks.RecoverySlot(meta)}
	for _, ft := range meta.ArcaTokens() {
		ts := tokenStatus{ID: ft.ID}
		if ft.Err != nil {
			ts.Error = ft.Err.Error()
			st.Tokens = append(st.Tokens, ts)
			continue
		}
		tok := ft.Token
		ts.Keyslot, ts.Address, ts.Mount, ts.Volume = tok.Keyslots[0], tok.Address, tok.Mount, tok.Volume
		ts.SlotExists = slices.Contains(st.Keyslots, tok.Slot())
		if rest, ok := strings.CutPrefix(tok.Wrapped, "arca:v"); ok {
			ts.KeyVersion, _, _ = strings.Cut(rest, ":")
		}
		ts.Server, ts.ServerErr = serverView(v, tok)
		st.Tokens = append(st.Tokens, ts)
	}
	if v.f.common.format == "json" {
		_ = printJSON(e.stdout, st)
		return exitOK
	}
	printTable(e.stdout, []kvRow{{"device", st.Device}, {"keyslots", fmt.Sprint(st.Keyslots)}, {"arca tokens", fmt.Sprint(len(st.Tokens))}, {"recovery keyslot", recoveryText(st.RecoverySlot)}})
	for _, ts := range st.Tokens {
		fmt.Fprintln(e.stdout)
		header(e.stdout, fmt.Sprintf("Token %d", ts.ID))
		if ts.Error != "" {
			printTable(e.stdout, []kvRow{{"error", ts.Error}})
			continue
		}
		rows := []kvRow{{"keyslot", ts.Keyslot}, {"keyslot_exists", fmt.Sprint(ts.SlotExists)}, {"address", ts.Address}, {"mount", ts.Mount}, {"volume", ts.Volume}, {"key_version", ts.KeyVersion}}
		if ts.ServerErr != "" {
			rows = append(rows, kvRow{"server", ts.ServerErr})
		} else {
			for _, r := range mapRows(ts.Server) {
				rows = append(rows, kvRow{"server " + r.key, r.value})
			}
		}
		printTable(e.stdout, rows)
	}
	return exitOK
}

// serverView reads the volume's metadata from the server the token names
// (if this host may talk to it); a failure is reported, not fatal.
func serverView(v *volumeCmd, tok luks.Token) (map[string]any, string) {
	addr := v.configuredAddr()
	if addr != "" && !sameAddr(addr, tok.Address) {
		return nil, fmt.Sprintf("%v (token: %s, configured: %s)", errOtherServer, tok.Address, addr)
	}
	c, err := apiSource{v, tok.Mount}.client(tok.Address)
	if err != nil {
		return nil, err.Error()
	}
	s, err := c.Logical().Read(tok.Mount + "/volumes/" + tok.Volume)
	switch {
	case err != nil:
		return nil, err.Error()
	case s == nil:
		return nil, "no such volume on the server"
	}
	out := map[string]any{}
	for _, k := range []string{"latest_version", "revoked", "revoked_time"} {
		if x, ok := s.Data[k]; ok {
			out[k] = x
		}
	}
	return out, ""
}

func recoveryText(slot int) string {
	if slot < 0 {
		return "none"
	}
	return fmt.Sprint(slot)
}
