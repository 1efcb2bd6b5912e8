package record

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"
)

// Recording is one file of a recorded channel.
type Recording struct {
	User, Channel, File string
	// Start is when its first byte arrived; Duration is from then to its
	// last write (the file's modification time).
	Start    time.Time
	Duration time.Duration
	Bytes    int64
	// Recording is true for a file still being written.
	Recording bool

	path    string
	modTime time.Time
}

// List returns the recordings on disk, oldest first per channel, sorted
// by user and channel. Files the recorder did not name are left out.
func (r *Recorder) List() ([]Recording, error) {
	out, err := scanDir(r.cfg.Dir)
	if err != nil {
		return nil, err
	}
	cur := r.current()
	for i := range out {
		out[i].Recording = cur[out[i].path]
	}
	return out, nil
}

// scanDir lists Dir/USER/CHANNEL/START.EXT files.
func scanDir(dir string) ([]Recording, error) {
	users, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	var out []Recording
	for _, u := range users {
		if !u.IsDir() {
			continue
		}
		chans, err := os.ReadDir(filepath.Join(dir, u.Name()))
		if err != nil {
			continue // removed meanwhile, or unreadable: not ours to fix
		}
		for _, c := range chans {
			if !c.IsDir() || checkNames(u.Name(), c.Name()) != nil {
				continue
			}
			out = append(out, scanChannel(dir, u.Name(), c.Name())...)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.User != b.User {
			return a.User < b.User
		}
		if a.Channel != b.Channel {
			return a.Channel < b.Channel
		}
		return a.File < b.File
	})
	return out, nil
}

func scanChannel(dir, user, channel string) []Recording {
	cdir := filepath.Join(dir, user, channel)
	files, err := os.ReadDir(cdir)
	if err != nil {
		return nil
	}
	var out []Recording
	for _, f := range files {
		start, ok := parseFileName(f.Name())
		if !ok || !f.Type().IsRegular() {
			continue
		}
		info, err := f.Info()
		if err != nil {
			continue
		}
		out = append(out, Recording{
			User: user, Channel: channel, File: f.Name(),
			Start: start, Duration: max(0, info.ModTime().Sub(start)), Bytes: info.Size(),
			path: filepath.Join(cdir, f.Name()), modTime: info.ModTime(),
		})
	}
	return out
}

// Open opens a recording for reading, by the names List gives. Names that
// are not a user, a channel and a file name the recorder makes fail with
// ErrNotFound before any path is built, and the file is opened through an
// os.Root of the recording directory, so that nothing outside it (not
// even through a symbolic link) can be reached.
func (r *Recorder) Open(user, channel, file string) (*os.File, error) {
	if err := checkNames(user, channel); err != nil {
		return nil, err
	}
	if _, ok := parseFileName(file); !ok {
		return nil, fmt.Errorf("%w: %q is not a recording's name", ErrNotFound, file)
	}
	root, err := os.OpenRoot(r.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	defer root.Close()
	f, err := root.Open(path.Join(user, channel, file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s/%s/%s", ErrNotFound, user, channel, file)
	}
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s/%s/%s is not a file", ErrNotFound, user, channel, file)
	}
	return f, nil
}

// prune deletes the oldest finished files beyond Config.Keep: every file
// older than Keep.Age, then the oldest until all files fit in Keep.Bytes.
// Files being written are never deleted (but count towards the size).
func (r *Recorder) prune() {
	keep := r.cfg.Keep
	if keep.Age <= 0 && keep.Bytes <= 0 {
		return
	}
	// List first, then ask which files are current: a file is named
	// current before it is created (segmenter.open), so a file being
	// written is never taken for a finished one.
	all, err := scanDir(r.cfg.Dir)
	if err != nil {
		r.log.Warn("retention: cannot list recordings", "err", err)
		return
	}
	cur := r.current()
	sort.SliceStable(all, func(i, j int) bool { return all[i].Start.Before(all[j].Start) })
	var total int64
	for _, f := range all {
		total += f.Bytes
	}
	now := r.clock.Now()
	for _, f := range all {
		old := keep.Age > 0 && now.Sub(f.modTime) > keep.Age
		big := keep.Bytes > 0 && total > keep.Bytes
		if cur[f.path] || (!old && !big) {
			continue
		}
		if err := os.Remove(f.path); err != nil {
			r.log.Warn("retention: cannot delete a recording", "file", f.path, "err", err)
			continue
		}
		total -= f.Bytes
		r.log.Info("retention: recording deleted", "file", f.path, "bytes", f.Bytes, "keep", keep.String())
	}
}
