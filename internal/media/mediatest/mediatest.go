// Package mediatest checks MPEG transport streams the way a strict demuxer
// does, for tests at any layer: what a watcher received after joining must
// play without the discontinuities VLC logs ("TS discontinuity (received 2,
// expected 1)").
package mediatest

import (
	"bytes"
	"errors"
	"fmt"
)

const (
	packetSize = 188
	syncByte   = 0x47
	pidNull    = 0x1fff
)

// ErrContinuity is wrapped by CheckContinuity's errors about a jump of a
// continuity counter; other errors are about the stream's packet structure.
var ErrContinuity = errors.New("mediatest: continuity counter jump")

// CheckContinuity checks the continuity_counter of every PID of ts, a
// transport stream that starts on a packet boundary (a trailing partial
// packet is ignored), from the PID's first packet on: each packet with
// payload must carry the previous counter plus one (mod 16), or repeat it as
// an exact duplicate of the previous packet; a packet without payload must
// repeat it. A packet whose adaptation field sets discontinuity_indicator
// starts a new count; null packets and packets with transport_error_indicator
// are skipped.
func CheckContinuity(ts []byte) error {
	type state struct {
		cc   byte
		dup  bool // the previous packet was already a duplicate
		last []byte
	}
	pids := map[int]*state{}
	for off := 0; off+packetSize <= len(ts); off += packetSize {
		pk := ts[off : off+packetSize]
		if pk[0] != syncByte {
			return fmt.Errorf("mediatest: no sync byte at offset %d (packet %d)", off, off/packetSize)
		}
		pid := int(pk[1]&0x1f)<<8 | int(pk[2])
		if pid == pidNull || pk[1]&0x80 != 0 {
			continue
		}
		afc := pk[3] >> 4 & 3
		cc := pk[3] & 0x0f
		if afc == 0 {
			return fmt.Errorf("mediatest: packet %d (PID %#x) has adaptation_field_control 0", off/packetSize, pid)
		}
		discontinuity := afc&2 != 0 && pk[4] > 0 && pk[5]&0x80 != 0
		s, seen := pids[pid]
		if !seen || discontinuity {
			pids[pid] = &state{cc: cc, last: pk}
			continue
		}
		want := s.cc
		if afc&1 != 0 {
			want = (s.cc + 1) & 0x0f
		}
		switch {
		case cc == want:
			s.dup = false
		case afc&1 != 0 && cc == s.cc && !s.dup && bytes.Equal(pk, s.last):
			s.dup = true // one duplicate packet is allowed
		default:
			return fmt.Errorf("%w: PID %#x at offset %d (packet %d): received %d, expected %d",
				ErrContinuity, pid, off, off/packetSize, cc, want)
		}
		s.cc = cc
		s.last = pk
	}
	return nil
}
