package record

import (
	"fmt"
	"strings"
	"time"

	"github.com/fstream/fstream/internal/media"
	"github.com/fstream/fstream/internal/protocol"
)

// stampLayout names a file by its first byte's time: UTC, sortable as text,
// and free of ':' (which Windows and some tools refuse in file names).
const stampLayout = "20060102T150405.000Z"

// extensions by format: MPEG-TS is recorded as it comes; raw H.264 and
// H.265 stay raw Annex B (ffmpeg and players read them by extension);
// anything else is opaque bytes.
var extensions = map[media.Format]string{
	media.FormatMPEGTS:  ".ts",
	media.FormatH264:    ".h264",
	media.FormatH265:    ".h265",
	media.FormatGeneric: ".bin",
}

// fileName is the name of a file whose first byte arrived at t.
func fileName(t time.Time, f media.Format) string {
	ext, ok := extensions[f]
	if !ok {
		ext = ".bin"
	}
	return t.UTC().Format(stampLayout) + ext
}

// parseFileName reads a name fileName made; ok is false for any other name,
// so that nothing else in the directory is listed, served or deleted.
func parseFileName(name string) (start time.Time, ok bool) {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return time.Time{}, false
	}
	known := false
	for _, ext := range extensions {
		known = known || name[dot:] == ext
	}
	if !known {
		return time.Time{}, false
	}
	t, err := time.Parse(stampLayout, name[:dot])
	if err != nil || t.UTC().Format(stampLayout) != name[:dot] {
		return time.Time{}, false
	}
	return t, true
}

// checkNames refuses user and channel names that are not plain names: the
// protocol already refuses them at the handshake, and this keeps a path
// made from them inside the recording directory whatever a caller passes.
func checkNames(user, channel string) error {
	if err := protocol.ValidateName(user); err != nil {
		return fmt.Errorf("%w: user: %w", ErrNotFound, err)
	}
	if err := protocol.ValidateName(channel); err != nil {
		return fmt.Errorf("%w: channel: %w", ErrNotFound, err)
	}
	return nil
}
