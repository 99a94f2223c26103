package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
)

// Line format. Every line is a JSON object in Vault's shape plus two
// fields of ours:
//
//	{...entry..., "prev_hash": "<hex of the previous line's hash>", "hash": "<hex>"}
//
// where hash is SHA-256 of the line's bytes without the trailing
// `,"hash":"..."` (that is, of the object as it was before hash was
// added). Editing a line breaks its own hash; deleting or reordering
// lines breaks the next line's prev_hash. The first line of a file may
// carry any prev_hash (a rotated file continues the previous one's chain).

const hashFieldPrefix = `,"hash":"`

// chainLine serialises entry with prevHash and returns the line (with a
// trailing newline) and its hash.
func chainLine(entry map[string]any, prevHash string) ([]byte, string, error) {
	entry["prev_hash"] = prevHash
	body, err := json.Marshal(entry)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	line := make([]byte, 0, len(body)+len(hashFieldPrefix)+len(h)+3)
	line = append(line, body[:len(body)-1]...)
	line = append(line, hashFieldPrefix...)
	line = append(line, h...)
	line = append(line, '"', '}', '\n')
	return line, h, nil
}

// lineHash checks one line's own hash and returns it with the line's
// prev_hash.
func lineHash(line []byte) (hash, prev string, err error) {
	start := bytes.IndexByte(line, '{')
	if start < 0 {
		return "", "", fmt.Errorf("not a JSON object")
	}
	line = line[start:]
	i := bytes.LastIndex(line, []byte(hashFieldPrefix))
	if i < 0 || !bytes.HasSuffix(line, []byte(`"}`)) {
		return "", "", fmt.Errorf("no hash field: not an Arca audit line")
	}
	hash = string(line[i+len(hashFieldPrefix) : len(line)-2])
	body := append(append([]byte(nil), line[:i]...), '}')
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != hash {
		return "", "", fmt.Errorf("the line's content does not match its hash (edited)")
	}
	var fields struct {
		Prev *string `json:"prev_hash"`
	}
	if err := json.Unmarshal(body, &fields); err != nil || fields.Prev == nil {
		return "", "", fmt.Errorf("no prev_hash field")
	}
	return hash, *fields.Prev, nil
}

// ChainError names the first line of a log that breaks the chain.
type ChainError struct {
	Line   int
	Reason string
}

func (e *ChainError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// Verify reads an audit log and checks every line's hash and link. It
// returns the number of good lines, or a *ChainError for the first bad one.
func Verify(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	prevHash := ""
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		n++
		h, prev, err := lineHash(line)
		if err != nil {
			return n - 1, &ChainError{Line: n, Reason: err.Error()}
		}
		if n > 1 && prev != prevHash {
			return n - 1, &ChainError{Line: n, Reason: "prev_hash does not match the line before: a line was deleted, inserted or moved here"}
		}
		prevHash = h
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	return n, nil
}

// lastHash returns the hash of the last line of an existing log, checking
// that the log is an Arca audit log; "" for an empty one.
func lastHash(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	last := ""
	first := true
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		h, _, err := lineHash(line)
		if err != nil && first {
			return "", fmt.Errorf("%w: %v", ErrNotAuditLog, err)
		}
		first = false
		if err == nil {
			last = h
		}
	}
	return last, sc.Err()
}
