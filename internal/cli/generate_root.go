package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/arca-secrets/arca/core/genroot"
	"github.com/openbao/openbao/api/v2"
)

type generateRootFlags struct {
	init, cancel, status, generateOTP bool
	otp, decode, nonce, pgpKey        string
	ageIdentity                       string
}

// runOperatorGenerateRoot makes a new root token from a quorum of key
// shares, as Vault's command does: -init starts (the server makes the OTP,
// or -otp gives one), each holder then submits a share, the last gets the
// encoded token, and -decode with the OTP turns it into the token.
func runOperatorGenerateRoot(e *env, args []string) int {
	var f generateRootFlags
	c, cf, pos, code := clientFor(e, "operator generate-root", args, 0, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&f.init, "init", false, "start generating a root token")
		fs.BoolVar(&f.cancel, "cancel", false, "cancel the generation in progress")
		fs.BoolVar(&f.status, "status", false, "print the generation in progress")
		fs.BoolVar(&f.generateOTP, "generate-otp", false, "print a new one-time pad for -init -otp")
		fs.StringVar(&f.otp, "otp", "", "the one-time pad (with -init: encode with it; with -decode: decode with it)")
		fs.StringVar(&f.decode, "decode", "", "decode this encoded token with -otp (\"-\": read it from stdin)")
		fs.StringVar(&f.nonce, "nonce", "", "nonce of the generation in progress (printed by -init)")
		fs.StringVar(&f.pgpKey, "pgp-key", "", "not supported: the token is encoded with a one-time pad")
		fs.StringVar(&f.ageIdentity, "age-identity", "", "decrypt an age-encrypted share (the file named by the argument, or stdin) with the age or SSH identity in this file")
	})
	if code >= 0 {
		return code
	}
	switch {
	case f.pgpKey != "":
		return usageError(e, "-pgp-key is not supported: Arca encodes the new root token with a one-time pad (see the README, \"Generate a new root token\")")
	case f.generateOTP:
		otp, err := genroot.NewOTP()
		if err != nil {
			return apiError(e, "generating an OTP", err)
		}
		fmt.Fprintln(e.stdout, otp)
	case f.decode != "":
		return decodeRootToken(e, cf.format, f.decode, f.otp)
	case f.init:
		st, err := c.Sys().GenerateRootInit(f.otp, "")
		if err != nil {
			return apiError(e, "starting root token generation", err)
		}
		printGenerateRootStatus(e, cf.format, st)
		if st.OTP != "" && cf.format != "json" {
			fmt.Fprintln(e.stdout, "\nA one-time pad (OTP) was made for this generation and is shown above. It is\nneeded to decode the new root token: keep it until then; it is not shown again.")
		}
	case f.cancel:
		if err := c.Sys().GenerateRootCancel(); err != nil {
			return apiError(e, "canceling root token generation", err)
		}
		fmt.Fprintln(e.stdout, "Success! Root token generation canceled (if it was started)")
	case f.status:
		st, err := c.Sys().GenerateRootStatus()
		if err != nil {
			return apiError(e, "reading root token generation status", err)
		}
		printGenerateRootStatus(e, cf.format, st)
	default:
		if f.nonce == "" {
			st, err := c.Sys().GenerateRootStatus()
			if err != nil {
				return apiError(e, "reading root token generation status", err)
			}
			if !st.Started {
				return usageError(e, "No root token generation is in progress: start one with arca operator generate-root -init")
			}
			f.nonce = st.Nonce
		}
		key, err := readShareArg(e, pos, f.ageIdentity, "Unseal Key (will be hidden): ")
		if err != nil {
			return usageError(e, "Error reading unseal key: %v", err)
		}
		st, err := c.Sys().GenerateRootUpdate(key, f.nonce)
		if err != nil {
			return apiError(e, "posting unseal key", err)
		}
		printGenerateRootStatus(e, cf.format, st)
		if st.Complete && cf.format != "json" {
			fmt.Fprintln(e.stdout, "\nDecode the token with: arca operator generate-root -decode=ENCODED_TOKEN -otp=OTP")
		}
	}
	return exitOK
}

func decodeRootToken(e *env, format, encoded, otp string) int {
	if otp == "" {
		return usageError(e, "-decode needs the -otp the generation was started with")
	}
	if encoded == "-" {
		b, err := io.ReadAll(io.LimitReader(e.stdin, 4096))
		if err != nil {
			return usageError(e, "reading the encoded token: %v", err)
		}
		encoded = strings.TrimSpace(string(b))
	}
	tok, err := genroot.Decode(encoded, otp)
	if err != nil {
		return usageError(e, "Error decoding the root token: %v", err)
	}
	if format == "json" {
		_ = printJSON(e.stdout, map[string]any{"token": tok})
		return exitOK
	}
	fmt.Fprintln(e.stdout, tok)
	return exitOK
}

func printGenerateRootStatus(e *env, format string, st *api.GenerateRootStatusResponse) {
	if format == "json" {
		_ = printJSON(e.stdout, st)
		return
	}
	rows := []kvRow{
		{"Nonce", st.Nonce},
		{"Started", fmt.Sprint(st.Started)},
		{"Progress", fmt.Sprintf("%d/%d", st.Progress, st.Required)},
		{"Complete", fmt.Sprint(st.Complete)},
	}
	if st.OTP != "" {
		rows = append(rows, kvRow{"OTP", st.OTP})
	}
	rows = append(rows, kvRow{"OTP Length", fmt.Sprint(st.OTPLength)})
	if st.EncodedToken != "" {
		rows = append(rows, kvRow{"Encoded Token", st.EncodedToken})
	}
	printTable(e.stdout, rows)
}
