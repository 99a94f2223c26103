package secmem

// Erasure is the second half of keeping secrets out of memory: what a
// request handler allocates on the heap (decoded bodies, JSON encodings,
// plaintexts, tokens) is garbage once the answer is sent, and Go's garbage
// collector does not clear freed memory, so without help those bytes stay
// in the heap until the allocator happens to reuse their slot. Do runs a
// function under Go's runtime/secret (GOEXPERIMENT=runtimesecret), which
// clears its registers and stack on return and its heap allocations as
// soon as the collector finds them unreachable.

// EraseBuildHint says how to get a build that erases, for the warning a
// server without it logs.
const EraseBuildHint = "build with GOEXPERIMENT=runtimesecret (as README's commands and scripts/test do) to have freed request memory erased"
