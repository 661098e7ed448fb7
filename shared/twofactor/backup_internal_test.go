package twofactor

import (
	"math/bits"
	"strings"
	"testing"
)

// The entropy claim (≥ 50 bits per code) rests on the alphabet having exactly
// 32 distinct symbols, none of them the confusable letters.
func TestBackupAlphabet(t *testing.T) {
	seen := map[rune]bool{}
	for _, c := range backupAlphabet {
		if seen[c] {
			t.Errorf("duplicate symbol %q", c)
		}
		seen[c] = true
	}
	if len(seen) != 32 {
		t.Fatalf("alphabet has %d symbols, want 32 (5 bits each)", len(seen))
	}
	if strings.ContainsAny(backupAlphabet, "ilouILOU") {
		t.Error("alphabet contains a confusable letter")
	}
	if entropy := backupLen * (bits.Len(uint(len(backupAlphabet))) - 1); entropy < 50 {
		t.Errorf("entropy = %d bits, want ≥ 50", entropy)
	}
}
