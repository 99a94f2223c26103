//go:build !arca_broken_reads

package cluster

// brokenReads is false in every build but the linearizability test's
// deliberately broken one (build tag arca_broken_reads).
const brokenReads = false
