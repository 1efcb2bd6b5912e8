package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fstream/fstream/internal/record"
)

// recordingJSON is one recording file in the API.
type recordingJSON struct {
	User     string    `json:"user"`
	Channel  string    `json:"channel"`
	File     string    `json:"file"`
	URL      string    `json:"url"` // download path on this listener
	Start    time.Time `json:"start"`
	Duration float64   `json:"duration_seconds"` // to its last write
	Bytes    int64     `json:"bytes"`
	State    string    `json:"state"` // "recording" or "done"
}

// recorderJSON is one recorded channel's state and counters.
type recorderJSON struct {
	User    string           `json:"user"`
	Channel string           `json:"channel"`
	State   string           `json:"state"` // idle, recording, stopped (by a disk error, retrying)
	Bytes   int64            `json:"bytes_written"`
	Files   int64            `json:"files"`
	Gaps    int64            `json:"gaps"`
	Errors  map[string]int64 `json:"errors"`
}

type recordingsJSON struct {
	Channels   []recorderJSON  `json:"channels"`
	Recordings []recordingJSON `json:"recordings"`
}

// errNoRecorder answers the recording endpoints of a server that does not
// record.
const errNoRecorder = "this server does not record (serve --record DIR --record-channels USER/CHANNEL)"

// listRecordings lists the recorded channels and the files on disk.
func (a *API) listRecordings(w http.ResponseWriter, _ *http.Request) {
	if a.rec == nil {
		textError(w, http.StatusNotFound, errNoRecorder)
		return
	}
	files, err := a.rec.List()
	if err != nil {
		a.log.Warn("listing recordings failed", "err", err)
		textError(w, http.StatusInternalServerError, "cannot list the recordings; the server log says why")
		return
	}
	out := recordingsJSON{Channels: []recorderJSON{}, Recordings: make([]recordingJSON, 0, len(files))}
	for _, st := range a.rec.Stats() {
		errs := make(map[string]int64, len(st.Errors))
		for kind, n := range st.Errors {
			errs[record.ErrorKindNames[kind]] = n
		}
		out.Channels = append(out.Channels, recorderJSON{User: st.Key.User, Channel: st.Key.Channel,
			State: st.State.String(), Bytes: st.Bytes, Files: st.Files, Gaps: st.Gaps, Errors: errs})
	}
	for _, f := range files {
		state := "done"
		if f.Recording {
			state = "recording"
		}
		out.Recordings = append(out.Recordings, recordingJSON{User: f.User, Channel: f.Channel, File: f.File,
			URL:   "/recordings/" + url.PathEscape(f.User) + "/" + url.PathEscape(f.Channel) + "/" + url.PathEscape(f.File),
			Start: f.Start.UTC(), Duration: f.Duration.Seconds(), Bytes: f.Bytes, State: state})
	}
	writeJSON(w, http.StatusOK, out)
}

// downloadRecording serves one recording file. record.Open refuses any
// name that is not a recording's, and reads through an os.Root of the
// recording directory.
func (a *API) downloadRecording(w http.ResponseWriter, r *http.Request) {
	if a.rec == nil {
		textError(w, http.StatusNotFound, errNoRecorder)
		return
	}
	user, channel, file := r.PathValue("user"), r.PathValue("channel"), r.PathValue("file")
	f, err := a.rec.Open(user, channel, file)
	if errors.Is(err, record.ErrNotFound) {
		textError(w, http.StatusNotFound, "no such recording")
		return
	}
	if err != nil {
		a.log.Warn("opening a recording failed", "user", user, "channel", channel, "file", file, "err", err)
		textError(w, http.StatusInternalServerError, "cannot open the recording; the server log says why")
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		textError(w, http.StatusInternalServerError, "cannot open the recording")
		return
	}
	ctype := mime.TypeByExtension(path.Ext(file))
	if path.Ext(file) == ".ts" {
		ctype = "video/mp2t" // not text/vnd.trolltech.linguist, as some mime tables say
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{
		"filename": fmt.Sprintf("%s-%s-%s", user, channel, file)}))
	w.Header().Set("Cache-Control", "no-store")
	// A file being written is served as far as it is now.
	http.ServeContent(w, r, "", info.ModTime(), f)
}

// recordCollector reports the recorder's counters at scrape time.
type recordCollector struct {
	rec    *record.Recorder
	state  *prometheus.Desc
	bytes  *prometheus.Desc
	files  *prometheus.Desc
	gaps   *prometheus.Desc
	errors *prometheus.Desc
}

func newRecordCollector(rec *record.Recorder) *recordCollector {
	labels := []string{"user", "channel"}
	return &recordCollector{
		rec: rec,
		state: prometheus.NewDesc("fstream_recording_state",
			"1 for the recorded channel's state (idle, recording, stopped: by a disk error, retrying), 0 for the others.",
			[]string{"user", "channel", "state"}, nil),
		bytes: prometheus.NewDesc("fstream_recording_written_bytes_total",
			"Bytes written to the channel's recording files.", labels, nil),
		files: prometheus.NewDesc("fstream_recording_files_total",
			"Recording files started for the channel.", labels, nil),
		gaps: prometheus.NewDesc("fstream_recording_gaps_total",
			"Times the channel's recording dropped bytes up to the next keyframe because the disk fell behind.", labels, nil),
		errors: prometheus.NewDesc("fstream_recording_errors_total",
			"Disk errors that stopped the channel's recording, by kind (disk-full, permission, io).",
			[]string{"user", "channel", "kind"}, nil),
	}
}

func (c *recordCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.bytes, c.files, c.gaps, c.errors} {
		ch <- d
	}
}

func (c *recordCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.rec.Stats() {
		u, n := st.Key.User, st.Key.Channel
		for _, s := range record.States {
			v := 0.0
			if s == st.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, u, n, s.String())
		}
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(st.Bytes), u, n)
		ch <- prometheus.MustNewConstMetric(c.files, prometheus.CounterValue, float64(st.Files), u, n)
		ch <- prometheus.MustNewConstMetric(c.gaps, prometheus.CounterValue, float64(st.Gaps), u, n)
		for kind, v := range st.Errors {
			ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(v), u, n, record.ErrorKindNames[kind])
		}
	}
}
