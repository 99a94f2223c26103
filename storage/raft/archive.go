package raft

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	hraft "github.com/hashicorp/raft"
)

// The files of a saved snapshot, in the order they are written.
const (
	metaFile   = "meta.json"
	stateFile  = "state.bin"
	sumsFile   = "SHA256SUMS"
	sealedFile = "SHA256SUMS.sealed"
)

// writeArchive writes meta and body as a saved snapshot.
func writeArchive(w io.Writer, meta *hraft.SnapshotMeta, body []byte, seal SealFunc) error {
	m := *meta
	m.Size = int64(len(body))
	metaJSON, err := json.Marshal(&m)
	if err != nil {
		return err
	}
	sums := sumsOf(metaJSON, body)
	sealed, err := seal(sums)
	if err != nil {
		return fmt.Errorf("sealing the snapshot's sums: %w", err)
	}
	if len(sealed) == 0 {
		return errors.New("sealing the snapshot's sums gave nothing")
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	now := time.Now()
	for _, f := range []struct {
		name string
		data []byte
	}{{metaFile, metaJSON}, {stateFile, body}, {sumsFile, sums}, {sealedFile, sealed}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o600, Size: int64(len(f.data)), ModTime: now}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// sumsOf is SHA256SUMS for the two files.
func sumsOf(metaJSON, body []byte) []byte {
	m, b := sha256.Sum256(metaJSON), sha256.Sum256(body)
	return fmt.Appendf(nil, "%s  %s\n%s  %s\n", hex.EncodeToString(m[:]), metaFile, hex.EncodeToString(b[:]), stateFile)
}

// readArchive reads a saved snapshot whole and checks it: every file
// there once, the sums matching, the metadata sound, nothing after the
// end; the state at most maxState bytes (a small compressed file may
// stand for a huge one).
func readArchive(r io.Reader, maxState int64) (*archive, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadSnapshot}, args...)...)
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, bad("not gzip-compressed: %w", err)
	}
	limited := &io.LimitedReader{R: gz, N: maxState + 64<<10}
	tr := tar.NewReader(limited)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bad("%w", err)
		}
		switch h.Name {
		case metaFile, stateFile, sumsFile, sealedFile:
		default:
			return nil, bad("unexpected file %q", h.Name)
		}
		if _, dup := files[h.Name]; dup {
			return nil, bad("%s twice", h.Name)
		}
		if h.Size < 0 || h.Size > maxState {
			return nil, bad("%s larger than %d bytes", h.Name, maxState)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, bad("%w", err)
		}
		files[h.Name] = data
	}
	// Read to the end: gzip checks its CRC there, and nothing may follow.
	if _, err := io.Copy(io.Discard, limited); err != nil {
		return nil, bad("%w", err)
	}
	if limited.N <= 0 {
		return nil, bad("larger than %d bytes uncompressed", maxState)
	}
	for _, name := range []string{metaFile, stateFile, sumsFile, sealedFile} {
		if len(files[name]) == 0 {
			return nil, bad("no %s", name)
		}
	}
	if !bytes.Equal(files[sumsFile], sumsOf(files[metaFile], files[stateFile])) {
		return nil, bad("the SHA-256 sums do not match (altered or damaged)")
	}
	var meta hraft.SnapshotMeta
	if err := json.Unmarshal(files[metaFile], &meta); err != nil || meta.Index == 0 || meta.Size != int64(len(files[stateFile])) {
		return nil, bad("unsound metadata")
	}
	if meta.Version < hraft.SnapshotVersionMin || meta.Version > hraft.SnapshotVersionMax {
		return nil, bad("unsupported snapshot version %d", meta.Version)
	}
	if strings.TrimSpace(meta.ID) == "" {
		return nil, bad("no snapshot id")
	}
	return &archive{meta: meta, state: files[stateFile], sums: files[sumsFile], sealed: files[sealedFile]}, nil
}

// archive is a saved snapshot's checked contents.
type archive struct {
	meta         hraft.SnapshotMeta
	state        []byte
	sums, sealed []byte
}
