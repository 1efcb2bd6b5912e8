package httpapi

import (
	"cmp"
	"math"
	"net/http"
	"slices"
	"time"
)

// bitratesJSON is GET /api/v1/bitrates: every channel's bitrates over the
// last five minutes, one value per sample (about a second apart), oldest
// first, so that the status page draws full graphs as soon as it opens.
type bitratesJSON struct {
	IntervalSeconds float64           `json:"interval_seconds"`
	WindowSeconds   float64           `json:"window_seconds"`
	Channels        []channelBitrates `json:"channels"`
}

type channelBitrates struct {
	User    string    `json:"user"`
	Channel string    `json:"channel"`
	End     time.Time `json:"end"`     // time of the newest value
	In      []float64 `json:"in_bps"`  // from the broadcaster
	Out     []float64 `json:"out_bps"` // to all watchers
}

func (a *API) listBitrates(w http.ResponseWriter, _ *http.Request) {
	chans := a.srv.Hub().Channels()
	out := bitratesJSON{
		IntervalSeconds: sampleInterval.Seconds(),
		WindowSeconds:   historyWindow.Seconds(),
		Channels:        make([]channelBitrates, 0, len(chans)),
	}
	for _, ch := range chans {
		in, o, end := a.rates.historyOf(ch)
		k := ch.Key()
		out.Channels = append(out.Channels, channelBitrates{
			User: k.User, Channel: k.Channel, End: time.Unix(end, 0).UTC(), In: roundAll(in), Out: roundAll(o),
		})
	}
	slices.SortFunc(out.Channels, func(x, y channelBitrates) int {
		return cmp.Or(cmp.Compare(x.User, y.User), cmp.Compare(x.Channel, y.Channel))
	})
	writeJSON(w, http.StatusOK, out)
}

// roundAll rounds bitrates to whole bits per second, in place.
func roundAll(v []float64) []float64 {
	for i := range v {
		v[i] = math.Round(v[i])
	}
	return v
}
