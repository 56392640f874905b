package memwatch

import (
	"fmt"
	"math"
)

// FormatBytes formats n with binary units: "512 B", "1.5 KiB", "233.0 MiB",
// "24.0 GiB"; values below 10 GiB (or 10 of a larger unit) get two
// decimals: "1.12 GiB".
func FormatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	units := [...]string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / unit
	i := 0
	for v >= unit && i < len(units)-1 {
		v /= unit
		i++
	}
	if i >= 2 && v < 10 {
		return fmt.Sprintf("%.2f %s", v, units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// formatSigned formats a signed byte count.
func formatSigned(n int64) string {
	if n < 0 {
		if n == math.MinInt64 {
			return "-" + FormatBytes(uint64(math.MaxInt64)+1)
		}
		return "-" + FormatBytes(uint64(-n))
	}
	return FormatBytes(uint64(n))
}
