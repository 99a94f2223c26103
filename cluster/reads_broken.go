//go:build arca_broken_reads

package cluster

// brokenReads: standbys answer linearizable reads from whatever they
// have applied, without a read index. Only the linearizability test
// builds this (-tags arca_broken_reads), to show its checker catches
// stale reads; no release build has the tag.
const brokenReads = true
