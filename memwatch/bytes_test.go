package memwatch

import "testing"

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{140 * mi, "140.0 MiB"}, {1023 * mi, "1023.0 MiB"}, {1 << 30, "1.00 GiB"},
		{24 << 30, "24.0 GiB"}, {1 << 40, "1.00 TiB"}, {^uint64(0), "16.0 EiB"},
	} {
		if got := FormatBytes(tc.n); got != tc.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if got := formatSigned(-140 * mi); got != "-140.0 MiB" {
		t.Errorf("formatSigned = %q", got)
	}
	if got := formatSigned(-1 << 63); got != "-8.00 EiB" {
		t.Errorf("formatSigned(min) = %q", got)
	}
}
