package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseMix reads "a:3,b:1" (a weight defaults to 1).
func ParseMix(s string) ([]Weighted, error) {
	var out []Weighted
	for _, part := range strings.Split(s, ",") {
		name, w, hasWeight := strings.Cut(strings.TrimSpace(part), ":")
		weight := 1
		if hasWeight {
			n, err := strconv.Atoi(w)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad weight in %q", part)
			}
			weight = n
		}
		if name == "" {
			return nil, fmt.Errorf("empty workload in %q", s)
		}
		out = append(out, Weighted{Name: name, Weight: weight})
	}
	return out, nil
}
