package seal

import "fmt"

// MaxShares is the most shares a key can be split into (Shamir over
// GF(2^8)).
const MaxShares = 255

// Validate refuses a split no seal should make, naming the fields as the
// API does: kind is "secret" (unseal key shares) or "recovery". A key in
// more than one share needs at least two to come back together, or any
// single holder would hold it alone. Its errors wrap ErrInvalidSplit.
func (s Split) Validate(kind string) error {
	switch {
	case s.Shares < 1:
		return fmt.Errorf("%w: %s_shares must be at least 1", ErrInvalidSplit, kind)
	case s.Shares > MaxShares:
		return fmt.Errorf("%w: %s_shares must be at most %d", ErrInvalidSplit, kind, MaxShares)
	case s.Threshold < 1:
		return fmt.Errorf("%w: %s_threshold must be at least 1", ErrInvalidSplit, kind)
	case s.Threshold > s.Shares:
		return fmt.Errorf("%w: %s_threshold (%d) cannot be larger than %s_shares (%d)", ErrInvalidSplit, kind, s.Threshold, kind, s.Shares)
	case s.Shares > 1 && s.Threshold == 1:
		return fmt.Errorf("%w: %s_threshold must be at least 2 when %s_shares is more than 1", ErrInvalidSplit, kind, kind)
	}
	return nil
}
