package mailstack_test

import (
	"testing"

	"mailroom/internal/mailstack"
)

// BenchmarkStartStop measures one full start (certificates, configuration,
// both daemons ready) plus stop.
func BenchmarkStartStop(b *testing.B) {
	for b.Loop() {
		st := mailstack.Start(b)
		if err := st.Stop(); err != nil {
			b.Fatal(err)
		}
	}
}
