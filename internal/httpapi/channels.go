package httpapi

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
)

// channelJSON is one channel in the JSON API. It never carries a password.
// Its schema is pinned by testdata/channel.golden.
type channelJSON struct {
	User     string `json:"user"`
	Channel  string `json:"channel"`
	WatchURL string `json:"watch_url"`
	PlayURL  string `json:"play_url"`
	Format   string `json:"format"` // "" while detecting
	Codec    string `json:"codec"`
	// AudioCodec is the first audio stream's (MPEG-TS only).
	AudioCodec string `json:"audio_codec"`
	Protected  bool   `json:"protected"`
	Live       bool   `json:"live"` // false in the grace period after the broadcaster left

	Watchers   int     `json:"watchers"`
	BytesIn    int64   `json:"bytes_in"`
	BytesOut   int64   `json:"bytes_out"`
	BitrateIn  float64 `json:"bitrate_in_bps"`
	BitrateOut float64 `json:"bitrate_out_bps"`
	// The channel's buffer: bytes retained now (for the slowest watcher
	// and for joins), the buffer's size now (it grows on demand), and the
	// most it may grow to (--channel-buffer).
	BufferedBytes  int     `json:"buffered_bytes"`
	BufferCapacity int     `json:"buffer_capacity_bytes"`
	BufferLimit    int     `json:"buffer_limit_bytes"`
	GOPBytes       int64   `json:"gop_bytes"`
	GOPSeconds     float64 `json:"gop_seconds"`
	// JoinFallbacks counts watchers that found no keyframe within the join
	// timeout and started at a fallback point.
	JoinFallbacks int64 `json:"join_fallbacks"`

	Created       time.Time        `json:"created"`
	UptimeSeconds float64          `json:"uptime_seconds"`
	Broadcaster   *broadcasterJSON `json:"broadcaster"` // null in the grace period
	WatcherList   []watcherJSON    `json:"watcher_list"`

	// In a cluster (cluster.go): the origin node, every node carrying the
	// channel with its watchers, and their sum. A channel live only on
	// other nodes has these and what the directory knows.
	Origin          string             `json:"origin,omitempty"`
	Nodes           []nodeWatchersJSON `json:"nodes,omitempty"`
	ClusterWatchers int64              `json:"cluster_watchers,omitempty"`
}

type broadcasterJSON struct {
	ID            uint64    `json:"id"`
	Remote        string    `json:"remote"`
	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`
}

type watcherJSON struct {
	ID           uint64    `json:"id"`
	Remote       string    `json:"remote"`
	Via          string    `json:"via"` // "tcp" or "http"
	Joined       time.Time `json:"joined"`
	SentBytes    int64     `json:"sent_bytes"`
	QueuedBytes  int64     `json:"queued_bytes"`
	SkippedBytes int64     `json:"skipped_bytes"` // skipped to keep it live (slow policy "skip")
	Waiting      bool      `json:"waiting"`       // for a keyframe to start at
}

type channelListJSON struct {
	Channels []channelJSON `json:"channels"`
	// ClusterError says why a node lists only its own channels: the
	// cluster directory could not be read.
	ClusterError string `json:"cluster_error,omitempty"`
}

type kickJSON struct {
	User    string `json:"user"`
	Channel string `json:"channel"`
	ID      uint64 `json:"id"` // 0: everyone on the channel
	Kicked  bool   `json:"kicked"`
	// Cluster is set when the kick was sent to every node of a cluster
	// (the answer is then 202 and Kicked unknown); Node is the node whose
	// connection ID is.
	Cluster bool   `json:"cluster,omitempty"`
	Node    string `json:"node,omitempty"`
}

// channelView turns a channel snapshot into its JSON form.
func channelView(in hub.Info, now time.Time, rateIn, rateOut float64) channelJSON {
	c := channelJSON{
		User:           in.Key.User,
		Channel:        in.Key.Channel,
		WatchURL:       channelPath("/watch/", in.Key),
		PlayURL:        channelPath("/play/", in.Key),
		Format:         in.Media.Format,
		Codec:          in.Media.Codec,
		AudioCodec:     in.Media.AudioCodec,
		Protected:      in.Protected,
		Live:           in.Stats.Live,
		Watchers:       in.Stats.Watchers,
		BytesIn:        in.Stats.BytesIn,
		BytesOut:       in.Stats.BytesOut,
		BitrateIn:      math.Round(rateIn),
		BitrateOut:     math.Round(rateOut),
		BufferedBytes:  in.Stats.Buffered,
		BufferCapacity: in.Stats.Capacity,
		BufferLimit:    in.Stats.Limit,
		GOPBytes:       in.Media.GOPBytes,
		GOPSeconds:     seconds(in.Media.GOPDuration),
		JoinFallbacks:  in.Stats.JoinFallbacks,
		Created:        in.Created.UTC(),
		UptimeSeconds:  seconds(max(0, now.Sub(in.Created))),
		WatcherList:    make([]watcherJSON, 0, len(in.Watchers)),
	}
	if b := in.Broadcaster; b != nil {
		c.Broadcaster = &broadcasterJSON{
			ID: b.ID, Remote: b.Remote, Started: b.Started.UTC(),
			UptimeSeconds: seconds(max(0, now.Sub(b.Started))),
		}
	}
	for _, w := range in.Watchers {
		c.WatcherList = append(c.WatcherList, watcherJSON{
			ID: w.ID, Remote: w.Remote, Via: w.Via, Joined: w.Joined.UTC(), SentBytes: w.Sent, QueuedBytes: w.Queued,
			SkippedBytes: w.Skipped, Waiting: w.Waiting,
		})
	}
	slices.SortFunc(c.WatcherList, func(a, b watcherJSON) int { return cmp.Compare(a.ID, b.ID) })
	return c
}

// seconds rounds a duration to milliseconds, in seconds.
func seconds(d time.Duration) float64 {
	return math.Round(d.Seconds()*1000) / 1000
}

// channelPath is prefix + the escaped user and channel.
func channelPath(prefix string, k hub.Key) string {
	return prefix + url.PathEscape(k.User) + "/" + url.PathEscape(k.Channel)
}

func (a *API) view(ch *hub.Channel) channelJSON {
	in, out := a.rates.rate(ch)
	return channelView(ch.Info(), a.now(), in, out)
}

func (a *API) listChannels(w http.ResponseWriter, r *http.Request) {
	chans := a.srv.Hub().Channels()
	list := channelListJSON{Channels: make([]channelJSON, 0, len(chans))}
	for _, ch := range chans {
		list.Channels = append(list.Channels, a.view(ch))
	}
	a.clusterChannels(r.Context(), &list)
	slices.SortFunc(list.Channels, func(x, y channelJSON) int {
		return cmp.Or(cmp.Compare(x.User, y.User), cmp.Compare(x.Channel, y.Channel))
	})
	writeJSON(w, http.StatusOK, list)
}

func (a *API) getChannel(w http.ResponseWriter, r *http.Request) {
	ch, err := a.channelOf(r)
	if err != nil {
		channelError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a.view(ch))
}

// kick removes one connection (…/kick/{id}) or the broadcaster and every
// watcher (…/kick) from a channel. Kicking everyone answers 200 with
// "kicked": false when there was nobody; an unknown id answers 404.
func (a *API) kick(w http.ResponseWriter, r *http.Request) {
	id, err := parseConnID(r.PathValue("id"))
	if err != nil {
		textError(w, http.StatusBadRequest, err.Error())
		return
	}
	if a.srv.ClusterNode() != nil {
		k, err := keyOf(r)
		if err != nil {
			channelError(w, err)
			return
		}
		a.clusterKick(w, r, k, id)
		return
	}
	ch, err := a.channelOf(r)
	if err != nil {
		channelError(w, err)
		return
	}
	key := ch.Key()
	kicked := ch.Kick(id)
	a.log.Info("operator kick", "user", key.User, "channel", key.Channel, "id", id, "kicked", kicked, "remote", r.RemoteAddr)
	if !kicked && id != 0 {
		textError(w, http.StatusNotFound, fmt.Sprintf("no connection %d on channel %s/%s", id, key.User, key.Channel))
		return
	}
	writeJSON(w, http.StatusOK, kickJSON{User: key.User, Channel: key.Channel, ID: id, Kicked: kicked})
}

// keyOf returns the channel named by a request's path, checked like the
// wire protocol checks names.
func keyOf(r *http.Request) (hub.Key, error) {
	k := hub.Key{User: r.PathValue("user"), Channel: r.PathValue("channel")}
	if err := protocol.ValidateName(k.User); err != nil {
		return k, fmt.Errorf("user: %w", err)
	}
	if err := protocol.ValidateName(k.Channel); err != nil {
		return k, fmt.Errorf("channel: %w", err)
	}
	return k, nil
}

// channelOf returns the hub's channel named by the request's path.
func (a *API) channelOf(r *http.Request) (*hub.Channel, error) {
	k, err := keyOf(r)
	if err != nil {
		return nil, err
	}
	ch := a.srv.Hub().Channel(k)
	if ch == nil {
		return nil, fmt.Errorf("%w: %s/%s", ErrNoChannel, k.User, k.Channel)
	}
	return ch, nil
}

// channelError answers 404 for an unknown channel and 400 for a bad name.
func channelError(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrNoChannel) {
		textError(w, http.StatusNotFound, err.Error())
		return
	}
	textError(w, http.StatusBadRequest, err.Error())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil { // only for types that cannot be marshalled: a bug
		textError(w, http.StatusInternalServerError, "encoding JSON: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
