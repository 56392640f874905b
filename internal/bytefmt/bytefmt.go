// Package bytefmt formats byte counts with binary (IEC) units, for the whole
// module: one implementation, two styles.
//
// Format is the style of reports and tables ("512 B", "1.5 KiB",
// "233.0 MiB", "1.12 GiB"): one decimal, two below 10 from GiB up, so a
// few GiB still show MiB-sized changes. Compact is the style of messages ("32 MiB", "1.5 GiB"): at most
// one decimal, none when it is 0 or the value is 100 or more.
//
// A value that rounds up to 1024 of a unit is shown in the next unit
// ("1.0 MiB", not "1024.0 KiB").
package bytefmt

import "strconv"

var units = [...]string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// Format formats n in the style of reports: "512 B", "1.0 KiB", "1.5 KiB",
// "3.8 MiB", "233.0 MiB", "1.12 GiB", "24.0 GiB", "16.0 EiB".
func Format(n uint64) string {
	if n < 1024 {
		return strconv.FormatUint(n, 10) + " B"
	}
	v, i := scale(n)
	for {
		prec := 1
		if i >= 3 && v < 10 {
			prec = 2
		}
		s := strconv.FormatFloat(v, 'f', prec, 64)
		if up, ok := next(s, v, i); ok {
			v, i = up, i+1
			continue
		}
		if prec == 2 && len(s) > 4 { // "10.00": rounded up to 10
			s = strconv.FormatFloat(v, 'f', 1, 64)
		}
		return s + " " + units[i]
	}
}

// Compact formats n in the style of messages: "512 B", "1 KiB", "1.5 KiB",
// "81 MiB", "150 MiB", "3 GiB".
func Compact(n uint64) string {
	if n < 1024 {
		return strconv.FormatUint(n, 10) + " B"
	}
	v, i := scale(n)
	for {
		prec := 1
		if v >= 100 {
			prec = 0
		}
		s := strconv.FormatFloat(v, 'f', prec, 64)
		if up, ok := next(s, v, i); ok {
			v, i = up, i+1
			continue
		}
		if prec == 1 && s[len(s)-1] == '0' {
			s = s[:len(s)-2]
		}
		return s + " " + units[i]
	}
}

// Signed formats a signed byte count in the style of Format, with a leading
// "-" for negative values ("-140.0 MiB", "-8.00 EiB" for the minimum).
func Signed(n int64) string {
	if n < 0 {
		return "-" + Format(uint64(-(n+1))+1)
	}
	return Format(uint64(n))
}

// scale returns n in the largest unit (from KiB) it reaches, n ≥ 1024.
func scale(n uint64) (float64, int) {
	v, i := float64(n)/1024, 1
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return v, i
}

// next reports whether s, v formatted in unit i, rounded up to 1024 and
// so belongs in the next unit, and returns v in that unit. v < 1024, so s
// starts with "1024" only then.
func next(s string, v float64, i int) (float64, bool) {
	if i == len(units)-1 || len(s) < 4 || s[:4] != "1024" {
		return 0, false
	}
	return v / 1024, true
}
