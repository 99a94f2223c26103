package cli

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"github.com/arca-secrets/arca/internal/ageshare"
	"io"
	"os"
	"strings"
	"time"

	"github.com/openbao/openbao/api/v2"
	"golang.org/x/term"
)

func runOperator(e *env, args []string) int {
	return subcommands(e, "operator", args, map[string]func(*env, []string) int{
		"init":          runOperatorInit,
		"unseal":        runOperatorUnseal,
		"seal":          runOperatorSeal,
		"rotate":        runOperatorRotate,
		"key-status":    runOperatorKeyStatus,
		"rekey":         runOperatorRekey,
		"generate-root": runOperatorGenerateRoot,
		"raft":          runOperatorRaft,
		"step-down":     runOperatorStepDown,
	})
}

// clientFor parses a command's flags (registered by addFlags), checks the
// number of positional arguments, and returns the client.
func clientFor(e *env, name string, args []string, minArgs, maxArgs int, addFlags func(*flag.FlagSet)) (*api.Client, *commonFlags, []string, int) {
	var cf commonFlags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cf.register(fs)
	if addFlags != nil {
		addFlags(fs)
	}
	pos, ok := parseFlags(e, fs, args)
	if !ok {
		return nil, nil, nil, exitUsage
	}
	if len(pos) < minArgs || (maxArgs >= 0 && len(pos) > maxArgs) {
		return nil, nil, nil, usageError(e, "arca %s: wrong number of arguments (got %d); see arca %s -h", name, len(pos), name)
	}
	if err := cf.validate(); err != nil {
		return nil, nil, nil, usageError(e, "%v", err)
	}
	c, err := e.client(&cf)
	if err != nil {
		return nil, nil, nil, apiError(e, "creating client", err)
	}
	return c, &cf, pos, -1
}

func runOperatorInit(e *env, args []string) int {
	var shares, threshold, recoveryShares, recoveryThreshold int
	var ageRecipients string
	var fset *flag.FlagSet
	c, cf, _, code := clientFor(e, "operator init", args, 0, 0, func(fs *flag.FlagSet) {
		fset = fs
		fs.IntVar(&shares, "key-shares", 5, "number of unseal key shares (a seal that needs people)")
		fs.IntVar(&threshold, "key-threshold", 3, "number of shares needed to unseal")
		fs.IntVar(&recoveryShares, "recovery-shares", 5, "number of recovery key shares (a seal that unseals by itself)")
		fs.IntVar(&recoveryThreshold, "recovery-threshold", 3, "number of recovery shares needed to authorise an operation")
		fs.StringVar(&ageRecipients, "age-recipients", "", "encrypt each share to one age or SSH public key: a file of them, one a line, or a comma-separated list")
	})
	if code >= 0 {
		return code
	}
	st, err := c.Sys().SealStatus()
	if err != nil {
		return apiError(e, "reading the seal status", err)
	}
	if st.RecoverySeal && ageRecipients != "" {
		return usageError(e, "-age-recipients encrypts unseal shares; this server's seal unseals by itself and gives recovery shares, which it does not encrypt yet")
	}
	var recips []ageshare.Recipient
	if ageRecipients != "" {
		if recips, err = ageshare.ParseRecipients(ageRecipients, shares); err != nil {
			return usageError(e, "%v", err)
		}
	}
	set := map[string]bool{}
	fset.Visit(func(f *flag.Flag) { set[f.Name] = true })
	req := &api.InitRequest{SecretShares: shares, SecretThreshold: threshold}
	if st.RecoverySeal {
		// The seal unseals by itself: it takes recovery shares, and unseal
		// shares only when asked for (the server then says it refuses them).
		req = &api.InitRequest{RecoveryShares: recoveryShares, RecoveryThreshold: recoveryThreshold}
		if set["key-shares"] || set["key-threshold"] {
			req.SecretShares, req.SecretThreshold = shares, threshold
		}
	} else if set["recovery-shares"] || set["recovery-threshold"] {
		req.RecoveryShares, req.RecoveryThreshold = recoveryShares, recoveryThreshold
	}
	resp, err := c.Sys().Init(req)
	if err != nil {
		return apiError(e, "initializing", err)
	}
	if st.RecoverySeal {
		return printRecoveryInit(e, cf, resp, req)
	}
	if recips != nil {
		return printInitAge(e, cf.format, resp, threshold, recips)
	}
	if cf.format == "json" {
		_ = printJSON(e.stdout, map[string]any{"unseal_keys_hex": resp.Keys, "unseal_keys_b64": resp.KeysB64, "unseal_shares": shares, "unseal_threshold": threshold, "root_token": resp.RootToken})
		return exitOK
	}
	var b strings.Builder
	for i, k := range resp.KeysB64 {
		fmt.Fprintf(&b, "Unseal Key %d: %s\n", i+1, k)
	}
	fmt.Fprintf(&b, "\nInitial Root Token: %s\n\n", resp.RootToken)
	fmt.Fprintf(&b, "Arca initialized with %d key shares and a key threshold of %d. Please\n", shares, threshold)
	fmt.Fprintf(&b, "securely distribute the key shares printed above. When Arca is re-sealed,\n")
	fmt.Fprintf(&b, "restarted, or stopped, you must supply at least %d of these keys to unseal it.\n\n", threshold)
	b.WriteString("Arca does not store the generated unseal keys. Without at least the threshold\n")
	b.WriteString("of them, its data cannot be recovered.\n")
	fmt.Fprint(e.stdout, b.String())
	return exitOK
}

// printRecoveryInit prints what init gave with a seal that unseals by
// itself: recovery shares, which cannot unseal.
func printRecoveryInit(e *env, cf *commonFlags, resp *api.InitResponse, req *api.InitRequest) int {
	if cf.format == "json" {
		_ = printJSON(e.stdout, map[string]any{
			"unseal_keys_hex": []string{}, "unseal_keys_b64": []string{}, "unseal_shares": 0, "unseal_threshold": 0,
			"recovery_keys_hex": resp.RecoveryKeys, "recovery_keys_b64": resp.RecoveryKeysB64,
			"recovery_keys_shares": req.RecoveryShares, "recovery_keys_threshold": req.RecoveryThreshold,
			"root_token": resp.RootToken,
		})
		return exitOK
	}
	var b strings.Builder
	for i, k := range resp.RecoveryKeysB64 {
		fmt.Fprintf(&b, "Recovery Key %d: %s\n", i+1, k)
	}
	fmt.Fprintf(&b, "\nInitial Root Token: %s\n\n", resp.RootToken)
	b.WriteString("Arca initialized with a seal that unseals it by itself: it unseals at each\n")
	b.WriteString("start with no key shares.\n\n")
	if len(resp.RecoveryKeysB64) > 0 {
		fmt.Fprintf(&b, "Recovery key initialized with %d key shares and a key threshold of %d.\n", req.RecoveryShares, req.RecoveryThreshold)
		b.WriteString("Please securely distribute the key shares printed above. Recovery keys\n")
		b.WriteString("cannot unseal Arca; they authorise operations such as generating a new\n")
		b.WriteString("root token.\n")
	}
	fmt.Fprint(e.stdout, b.String())
	return exitOK
}

// readSecret prompts on the terminal without echo, or reads one line from a
// non-terminal stdin.
func readSecret(e *env, prompt string) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("reading from the terminal: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return "", errors.New("no key given on stdin")
	}
	return line, nil
}

func runOperatorUnseal(e *env, args []string) int {
	var reset, migrate bool
	var identity string
	c, cf, pos, code := clientFor(e, "operator unseal", args, 0, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&reset, "reset", false, "discard the shares given so far")
		fs.BoolVar(&migrate, "migrate", false, "migrate the seal (a server started with a disabled seal): give the old seal's unseal shares, or its recovery shares")
		fs.StringVar(&identity, "age-identity", "", "decrypt an age-encrypted share (the file named by the argument, or stdin) with the age or SSH identity in this file")
	})
	if code >= 0 {
		return code
	}
	var st *api.SealStatusResponse
	var err error
	if reset {
		st, err = c.Sys().ResetUnsealProcess()
	} else {
		key, rerr := readShareArg(e, pos, identity, "Unseal Key (will be hidden): ")
		if rerr != nil {
			return usageError(e, "Error reading unseal key: %v", rerr)
		}
		st, err = c.Sys().UnsealWithOptions(&api.UnsealOpts{Key: key, Migrate: migrate})
	}
	if err != nil {
		return apiError(e, "unsealing", err)
	}
	printSealStatus(e, cf.format, st)
	return exitOK
}

func runOperatorSeal(e *env, args []string) int {
	c, _, _, code := clientFor(e, "operator seal", args, 0, 0, nil)
	if code >= 0 {
		return code
	}
	if err := c.Sys().Seal(); err != nil {
		return apiError(e, "sealing", err)
	}
	fmt.Fprintln(e.stdout, "Success! Arca is sealed.")
	return exitOK
}

func runOperatorRotate(e *env, args []string) int {
	c, cf, _, code := clientFor(e, "operator rotate", args, 0, 0, nil)
	if code >= 0 {
		return code
	}
	if err := c.Sys().Rotate(); err != nil {
		return apiError(e, "rotating key", err)
	}
	ks, err := c.Sys().KeyStatus()
	if err != nil {
		return apiError(e, "checking key status", err)
	}
	if cf.format == "table" {
		fmt.Fprintln(e.stdout, "Success! Rotated key")
		fmt.Fprintln(e.stdout)
	}
	printKeyStatus(e, cf.format, ks)
	return exitOK
}

func runOperatorKeyStatus(e *env, args []string) int {
	c, cf, _, code := clientFor(e, "operator key-status", args, 0, 0, nil)
	if code >= 0 {
		return code
	}
	ks, err := c.Sys().KeyStatus()
	if err != nil {
		return apiError(e, "reading key status", err)
	}
	printKeyStatus(e, cf.format, ks)
	return exitOK
}

func printKeyStatus(e *env, format string, ks *api.KeyStatus) {
	if format == "json" {
		_ = printJSON(e.stdout, map[string]any{"term": ks.Term, "install_time": ks.InstallTime.Format(time.RFC3339Nano), "encryptions": ks.Encryptions})
		return
	}
	printTable(e.stdout, []kvRow{
		{"Key Term", fmt.Sprint(ks.Term)},
		{"Install Time", ks.InstallTime.UTC().Format(time.RFC1123)},
		{"Encryption Count", fmt.Sprint(ks.Encryptions)},
	})
}
