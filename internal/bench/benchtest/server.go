package benchtest

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

// serve is "fstream serve" reduced to what the bench needs: --listen,
// --users (plaintext passwords), --tls-cert and --tls-key (then TLS only),
// handshakes with acks, one Fanout per channel. --refuse-watchers answers
// every watcher "busy"; --ignore-sigterm makes it outlive a SIGTERM. The flags that lift a real server's limits, and
// --coalesce, are accepted and ignored; lenient also accepts, and ignores, those of the
// suite's slow-watcher scenario. It runs until killed.
func serve(args []string, lenient bool) int {
	fs := flag.NewFlagSet("fake serve", flag.ContinueOnError)
	listen := fs.String("listen", "", "")
	users := fs.String("users", "", "")
	certFile := fs.String("tls-cert", "", "")
	keyFile := fs.String("tls-key", "", "")
	refuse := fs.Bool("refuse-watchers", false, "")
	ignoreTerm := fs.Bool("ignore-sigterm", false, "")
	for _, name := range []string{"max-conns", "max-conns-per-ip", "max-channels", "max-watchers-per-channel", "log-level", "coalesce", "writers"} {
		fs.String(name, "", "ignored")
	}
	if lenient {
		fs.String("max-lag", "", "ignored")
		fs.String("watcher-sndbuf", "", "ignored")
	}
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprintln(os.Stderr, "fake server: want serve")
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM) // so that only a kill stops it
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake server:", err)
		return 1
	}
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake server:", err)
			return 1
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	fmt.Fprintln(os.Stderr, "fake server: listening on", ln.Addr())
	s := &fakeServer{users: *users, refuse: *refuse, channels: map[string]*Fanout{}}
	for {
		c, err := ln.Accept()
		if err != nil {
			return 1
		}
		go s.handle(c)
	}
}

type fakeServer struct {
	users    string
	refuse   bool
	mu       sync.Mutex
	channels map[string]*Fanout
}

func (s *fakeServer) handle(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	text, err := protocol.ReadFrame(c, protocol.DefaultMaxText)
	if err != nil {
		_ = c.Close() // a probe, or a client that gave up
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	req, err := protocol.ParseRequest(text)
	reply := func(st protocol.Status) { _ = protocol.WriteFrame(c, st.Text()) }
	if err != nil {
		reply(protocol.Status{Reason: protocol.ReasonBadRequest, Message: err.Error()})
		_ = c.Close()
		return
	}
	s.mu.Lock()
	f := s.channels[req.Channel]
	s.mu.Unlock()
	switch {
	case req.Command == protocol.CommandBroadcast:
		if !auth(s.users, req.User, req.UserPassword) {
			reply(protocol.Status{Reason: protocol.ReasonUnauthorized})
			_ = c.Close()
			return
		}
		f = &Fanout{}
		s.mu.Lock()
		s.channels[req.Channel] = f
		s.mu.Unlock()
		reply(protocol.OKStatus)
		f.Pump(c)
	case s.refuse:
		reply(protocol.Status{Reason: protocol.ReasonBusy, Message: "refusing watchers"})
		_ = c.Close()
	case f == nil:
		reply(protocol.Status{Reason: protocol.ReasonNotFound})
		_ = c.Close()
	default:
		reply(protocol.OKStatus)
		f.Add(c)
	}
}

func auth(dir, user, password string) bool {
	f, err := os.Open(filepath.Join(dir, user+".ini"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "password="); ok {
			return v == password
		}
	}
	return false
}
