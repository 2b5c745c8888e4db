//go:build !mailroom_plaintext_bench

package submit

// plaintextAllowed is false: no session sends without TLS, whatever its
// plaintext field says (only the benchmark build sets it).
const plaintextAllowed = false
