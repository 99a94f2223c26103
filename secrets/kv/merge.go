package kv

// mergePatch applies patch to target as an RFC 7386 JSON merge patch: an
// object patch merges field by field, a null field removes that field, and
// anything else replaces the target whole. target may be modified.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for name, value := range p {
		if value == nil {
			delete(t, name)
			continue
		}
		t[name] = mergePatch(t[name], value)
	}
	return t
}
