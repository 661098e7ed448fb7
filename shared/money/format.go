package money

import "strconv"

// format writes v minor units with the given decimals; trim drops trailing fraction zeros (and
// the point when nothing is left). It is exact for every int64, math.MinInt64 included.
func format(v int64, decimals int, trim bool) string {
	mag := uint64(v)
	if v < 0 {
		mag = -mag // two's complement: correct magnitude even for math.MinInt64
	}
	scale := uint64(1)
	for range decimals {
		scale *= 10
	}
	buf := make([]byte, 0, 24)
	if v < 0 {
		buf = append(buf, '-')
	}
	buf = strconv.AppendUint(buf, mag/scale, 10)
	if decimals == 0 {
		return string(buf)
	}
	frac := strconv.FormatUint(mag%scale, 10)
	digits := make([]byte, 0, decimals)
	for range decimals - len(frac) {
		digits = append(digits, '0')
	}
	digits = append(digits, frac...)
	if trim {
		for len(digits) > 0 && digits[len(digits)-1] == '0' {
			digits = digits[:len(digits)-1]
		}
	}
	if len(digits) > 0 {
		buf = append(buf, '.')
		buf = append(buf, digits...)
	}
	return string(buf)
}
