package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/fstream/fstream/internal/protocol"
)

// Core NATS subjects, all under fstream.<bucket>:
//
//	ping.<node>  request: answered with the session of the live process
//	             named <node> (Open refuses a name a live process holds)
//	pull.<node>  request: a pull token for a channel <node> carries
//	kick         every node calls OnKick for {user, channel, id}

// subscribe subscribes the control subjects and starts the goroutine that
// serves them.
func (n *Node) subscribe() error {
	ctl := make(chan *nats.Msg, controlBuffer)
	for _, subj := range []string{n.subject("ping", n.cfg.NodeName), n.subject("pull", n.cfg.NodeName), n.subject("kick", "")} {
		s, err := n.nc.ChanSubscribe(subj, ctl)
		if err != nil {
			n.unsubscribe()
			return fmt.Errorf("cluster: subscribe %s: %w", subj, n.unreachable(err))
		}
		n.subs = append(n.subs, s)
	}
	n.wg.Add(1)
	go n.controlLoop(ctl)
	return nil
}

// controlLoop serves control messages until Close. NATS never blocks on
// ctl: when it is full, messages are dropped and reported as a slow
// consumer.
func (n *Node) controlLoop(ctl <-chan *nats.Msg) {
	defer n.wg.Done()
	kick, ping := n.subject("kick", ""), n.subject("ping", n.cfg.NodeName)
	for {
		select {
		case <-n.stop:
			return
		case m := <-ctl:
			switch {
			case len(m.Data) > maxControlMsg:
				n.log.Warn("oversized cluster control message dropped", "subject", m.Subject, "bytes", len(m.Data))
			case m.Subject == kick:
				n.handleKick(m.Data)
			case m.Subject == ping:
				_ = m.Respond([]byte(n.session))
			default:
				_ = m.Respond(n.answerPull(m.Data))
			}
		}
	}
}

type kickMsg struct {
	User    string `json:"user"`
	Channel string `json:"channel"`
	ID      string `json:"id,omitempty"`
}

// maxKickID bounds the watcher id of a kick.
const maxKickID = 128

// Kick asks every node, this one included, to kick id (a watcher id; empty
// for the broadcaster) from k: each node's OnKick is called. It returns
// once NATS has the message.
func (n *Node) Kick(ctx context.Context, k Key, id string) error {
	if err := k.Validate(); err != nil {
		return fmt.Errorf("cluster: kick: %w", err)
	}
	if len(id) > maxKickID {
		return fmt.Errorf("cluster: kick: id longer than %d bytes", maxKickID)
	}
	ctx, cancel, err := n.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	b, _ := json.Marshal(kickMsg{User: k.User, Channel: k.Channel, ID: id})
	if err := n.nc.Publish(n.subject("kick", ""), b); err != nil {
		return n.fail("kick "+k.String(), err)
	}
	if err := n.nc.FlushWithContext(ctx); err != nil {
		return n.fail("kick "+k.String(), err)
	}
	return nil
}

// Ping asks the node name whether it is alive, over NATS, and returns the
// session of the process that answers: ErrNoAnswer when none does within
// OpTimeout (dead, or cut off from NATS; a live record in the directory
// does not count), ErrDirectoryUnreachable when this node is not
// connected. A puller asks this before it gives up an upstream whose
// record vanished, since a late heartbeat also makes one vanish.
func (n *Node) Ping(ctx context.Context, name string) (session string, err error) {
	if err := protocol.ValidateName(name); err != nil {
		return "", fmt.Errorf("cluster: ping %q: %w", name, err)
	}
	ctx, cancel, err := n.begin(ctx)
	if err != nil {
		return "", err
	}
	defer cancel()
	msg, err := n.nc.RequestWithContext(ctx, n.subject("ping", name), nil)
	switch {
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return "", fmt.Errorf("%w: %s", ErrNoAnswer, name)
	case err != nil:
		return "", n.fail("ping "+name, err)
	}
	return string(msg.Data), nil
}

func (n *Node) handleKick(data []byte) {
	var m kickMsg
	if err := decodeJSON(data, &m); err != nil {
		n.malformed("kick", 0, err)
		return
	}
	k := Key{m.User, m.Channel}
	if err := k.Validate(); err != nil || len(m.ID) > maxKickID {
		n.malformed("kick", 0, fmt.Errorf("%w: %w", ErrMalformed, err))
		return
	}
	n.metrics.KicksReceived.Add(1)
	if n.cfg.OnKick != nil {
		n.cfg.OnKick(k, m.ID)
	}
}
