package audit

import (
	"errors"
	"fmt"
	"path/filepath"
)

// ErrAPIRefused: the API may not enable such a device (403).
var ErrAPIRefused = errors.New("enabling this audit device through the API is not allowed")

// CheckAPIDevice refuses a device the API may not enable outside dev mode
// (CVE-2025-6000: an audit file written where code would be loaded):
// only file devices, at an absolute, clean path directly under one of
// dirs. A refusal wraps ErrAPIRefused; a bad path wraps ErrBadDevice.
func CheckAPIDevice(typ string, options map[string]string, dirs []string) error {
	if typ != "file" || len(dirs) == 0 {
		return fmt.Errorf("%w: declare devices in the config file, or name directories in audit_api_file_dirs for file devices", ErrAPIRefused)
	}
	p := options["file_path"]
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return fmt.Errorf("%w: file_path must be an absolute, clean path", ErrBadDevice)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return fmt.Errorf("%w: the directory of file_path does not exist", ErrBadDevice)
	}
	for _, allowed := range dirs {
		if a, err := filepath.EvalSymlinks(allowed); err == nil && dir == a {
			return nil
		}
	}
	return fmt.Errorf("%w: file_path must be directly under one of the directories in audit_api_file_dirs", ErrAPIRefused)
}
