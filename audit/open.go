package audit

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrBadDevice: a device's type or options are not ones Arca knows.
var ErrBadDevice = errors.New("invalid audit device")

// ParseOptions reads the logging options common to every device from
// its option map (Vault's names: log_raw, hmac_accessor, prefix).
func ParseOptions(o map[string]string) (Options, error) {
	opts := Options{HMACAccessor: true, Prefix: o["prefix"]}
	for key, dst := range map[string]*bool{"log_raw": &opts.LogRaw, "hmac_accessor": &opts.HMACAccessor} {
		if v, ok := o[key]; ok && v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return opts, fmt.Errorf("%w: %s must be true or false", ErrBadDevice, key)
			}
			*dst = b
		}
	}
	return opts, nil
}

// Open opens a device of type typ ("file", "socket", "syslog") with its
// options, as Vault names them.
func Open(typ string, o map[string]string) (Device, error) {
	switch typ {
	case "file":
		return OpenFile(o["file_path"])
	case "socket":
		st := o["socket_type"]
		if st == "" {
			st = "tcp"
		}
		return NewSocket(st, o["address"])
	case "syslog":
		fac := o["facility"]
		if fac == "" {
			fac = "AUTH"
		}
		return NewSyslog(fac, o["tag"])
	}
	return nil, fmt.Errorf("%w: unknown audit device type %q", ErrBadDevice, typ)
}
