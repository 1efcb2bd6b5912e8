package mediatest

import (
	"bytes"
	"errors"
	"testing"
)

// pkt builds a packet: PID, counter, and whether it has a payload and an
// adaptation field (with discontinuity_indicator if disc).
func pkt(pid int, cc byte, payload, disc bool, fill byte) []byte {
	p := make([]byte, packetSize)
	p[0] = syncByte
	p[1], p[2] = byte(pid>>8)&0x1f, byte(pid)
	afc := byte(1)
	if !payload {
		afc = 2
	}
	if disc {
		afc |= 2
	}
	p[3] = afc<<4 | cc&0x0f
	i := 4
	if afc&2 != 0 {
		p[4] = 1
		if !payload {
			p[4] = 183
		}
		if disc {
			p[5] = 0x80
		}
		i = 6
	}
	for ; i < packetSize; i++ {
		p[i] = fill
	}
	return p
}

func cat(pks ...[]byte) []byte { return bytes.Join(pks, nil) }

func TestCheckContinuity(t *testing.T) {
	tests := []struct {
		name string
		ts   []byte
		jump bool // want ErrContinuity
		bad  bool // want another error
	}{
		{"empty", nil, false, false},
		{"counts on", cat(pkt(0, 14, true, false, 1), pkt(0x100, 3, true, false, 1), pkt(0, 15, true, false, 1), pkt(0, 0, true, false, 1), pkt(0x100, 4, true, false, 1)), false, false},
		{"any first counter", cat(pkt(0x100, 9, true, false, 1), pkt(0x101, 2, true, false, 1)), false, false},
		{"jump", cat(pkt(0, 0, true, false, 1), pkt(0, 2, true, false, 1)), true, false},
		{"join prefix with counter 0 before a later copy", cat(pkt(0, 0, true, false, 1), pkt(0x100, 5, true, false, 1), pkt(0, 3, true, false, 1)), true, false},
		{"repeat that is no duplicate", cat(pkt(0, 4, true, false, 1), pkt(0, 4, true, false, 2)), true, false},
		{"one duplicate", cat(pkt(0, 4, true, false, 1), pkt(0, 4, true, false, 1), pkt(0, 5, true, false, 1)), false, false},
		{"two duplicates", cat(pkt(0, 4, true, false, 1), pkt(0, 4, true, false, 1), pkt(0, 4, true, false, 1)), true, false},
		{"no payload keeps the counter", cat(pkt(0x100, 4, true, false, 1), pkt(0x100, 4, false, false, 1), pkt(0x100, 5, true, false, 1)), false, false},
		{"no payload must keep the counter", cat(pkt(0x100, 4, true, false, 1), pkt(0x100, 5, false, false, 1)), true, false},
		{"discontinuity indicator", cat(pkt(0x100, 4, true, false, 1), pkt(0x100, 9, true, true, 1), pkt(0x100, 10, true, false, 1)), false, false},
		{"null packets", cat(pkt(pidNull, 0, true, false, 1), pkt(pidNull, 0, true, false, 1)), false, false},
		{"trailing partial packet", append(cat(pkt(0, 1, true, false, 1)), 0x47, 0, 0, 0x13), false, false},
		{"lost sync", append([]byte{0}, pkt(0, 1, true, false, 1)...), false, true},
		{"reserved adaptation_field_control", func() []byte { p := pkt(0, 1, true, false, 1); p[3] &= 0x0f; return p }(), false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckContinuity(tc.ts)
			switch {
			case tc.jump && !errors.Is(err, ErrContinuity):
				t.Fatalf("got %v, want a continuity error", err)
			case tc.bad && (err == nil || errors.Is(err, ErrContinuity)):
				t.Fatalf("got %v, want a structure error", err)
			case !tc.jump && !tc.bad && err != nil:
				t.Fatalf("got %v, want none", err)
			}
		})
	}
}

// FuzzCheckContinuity: no input makes the checker panic, and a stream
// that passes still passes when cut at a packet boundary.
func FuzzCheckContinuity(f *testing.F) {
	f.Add(cat(pkt(0, 0, true, false, 1), pkt(0, 1, true, false, 1)), uint8(1))
	f.Add(cat(pkt(0x100, 4, true, false, 1), pkt(0x100, 4, false, true, 1)), uint8(0))
	f.Add([]byte{0x47, 0x40, 0, 0x10}, uint8(3))
	f.Fuzz(func(t *testing.T, ts []byte, cut uint8) {
		if CheckContinuity(ts) != nil {
			return
		}
		if n := int(cut) * packetSize; n <= len(ts) {
			if err := CheckContinuity(ts[:n]); err != nil {
				t.Fatalf("the whole stream passes, its first %d packets fail: %v", cut, err)
			}
		}
	})
}
