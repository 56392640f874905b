package memwatch

import "github.com/go-memwatch/memwatch/internal/bytefmt"

// FormatBytes formats n with binary units: "512 B", "1.5 KiB", "233.0 MiB",
// "24.0 GiB"; values below 10 GiB (or 10 of a larger unit) get two
// decimals: "1.12 GiB".
func FormatBytes(n uint64) string { return bytefmt.Format(n) }

// formatSigned formats a signed byte count ("-1.5 MiB").
func formatSigned(n int64) string { return bytefmt.Signed(n) }
