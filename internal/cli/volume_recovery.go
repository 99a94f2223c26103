package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"filippo.io/age"
	"github.com/arca-secrets/arca/internal/luks"
)

func runVolumeRecovery(e *env, args []string) int {
	var p luks.RecoveryPlan
	v, code := parseVolume(e, "volume recovery", args, true, true, func(fs *flag.FlagSet) {
		fs.IntVar(&p.Shares, "shares", 0, "number of shares (one per holder)")
		fs.IntVar(&p.Threshold, "threshold", 0, "number of shares that open the volume (at least 2)")
		fs.Func("age-recipient", "a holder's age public key (age1...): give one per share, in order", func(s string) error {
			rs, err := age.ParseRecipients(strings.NewReader(s))
			if err != nil || len(rs) != 1 {
				return fmt.Errorf("not one age recipient: %v", err)
			}
			p.Recipients = append(p.Recipients, rs[0])
			return nil
		})
		fs.StringVar(&p.OutDir, "out", ".", "the directory for the encrypted shares (share-1.age ...)")
	})
	if code >= 0 {
		return code
	}
	if p.Threshold < 2 || p.Shares < p.Threshold || p.Shares > 255 {
		return usageError(e, "arca volume recovery: need 2 <= -threshold <= -shares <= 255")
	}
	if len(p.Recipients) != p.Shares {
		return usageError(e, "arca volume recovery: give one -age-recipient per share (%d for %d shares)", len(p.Recipients), p.Shares)
	}
	slot, files, err := luks.AddRecovery(context.Background(), v.dev, apiSource{v, v.f.mount}, p)
	if err != nil {
		return apiError(e, "adding recovery to "+v.dev.Path, err)
	}
	fmt.Fprintf(e.stdout, "Success! Keyslot %d of %s opens with any %d of these %d shares, each encrypted to its holder:\n", slot, v.dev.Path, p.Threshold, p.Shares)
	for _, f := range files {
		fmt.Fprintf(e.stdout, "    %s\n", f)
	}
	return exitOK
}

func runVolumeRecover(e *env, args []string) int {
	var mapper string
	var test bool
	v, code := parseVolume(e, "volume recover", args, true, false, func(fs *flag.FlagSet) {
		fs.StringVar(&mapper, "name", "", "the device-mapper name: the volume appears as /dev/mapper/NAME")
		fs.BoolVar(&test, "test", false, "only check that the shares open the recovery keyslot")
	})
	if code >= 0 {
		return code
	}
	if !test && !luks.ValidName(mapper) {
		return usageError(e, "arca volume recover: -name (the /dev/mapper name) is required without -test")
	}
	ctx := context.Background()
	meta, err := v.dev.Metadata(ctx)
	if err != nil {
		return apiError(e, "reading "+v.dev.Path, err)
	}
	uuid, err := v.dev.UUID(ctx)
	if err != nil {
		return apiError(e, "reading "+v.dev.Path, err)
	}
	key, err := luks.CombineShares(e.stdin, uuid)
	if err != nil {
		return apiError(e, "reading the shares", err)
	}
	defer luks.Wipe(key)
	slot := luks.RecoverySlot(meta)
	if test {
		err = v.dev.TestKey(ctx, slot, key)
	} else {
		err = v.dev.Open(ctx, slot, key, mapper)
	}
	if err != nil {
		return apiError(e, "recovering "+v.dev.Path, err)
	}
	if test {
		fmt.Fprintf(e.stdout, "Success! The shares open keyslot %d of %s (test only: nothing mapped)\n", slot, v.dev.Path)
	} else {
		fmt.Fprintf(e.stdout, "Success! Opened %s as /dev/mapper/%s with the recovery shares\n", v.dev.Path, mapper)
	}
	return exitOK
}
