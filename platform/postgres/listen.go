package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// dsns remembers the address of each pool Open made, for Listen.
var dsns sync.Map // *sqlx.DB → string

// DSN returns the address db was opened with by Open.
func DSN(db *sqlx.DB) (string, bool) {
	v, ok := dsns.Load(db)
	if !ok {
		return "", false
	}
	return v.(string), true
}

// ListenHandler receives what Listen hears. Each function may be nil; they
// are called from one goroutine, one at a time, and should be quick.
type ListenHandler struct {
	// Ready: the connection listens (again). Notifications sent while it
	// did not were missed.
	Ready func()
	// Lost: the connection is gone; notifications are missed until Ready.
	Lost func(err error)
	// Notify: a notification's payload.
	Notify func(payload string)
}

// listenPing is how often Listen checks its connection is alive, so a
// connection dropped without a word is noticed.
const listenPing = 15 * time.Second

// Listen runs LISTEN channel on a connection of its own to db's database
// (db must come from Open) until ctx ends, reconnecting when the
// connection is lost, and hands what it hears to h. It returns nil when
// ctx ends, an error when it cannot start.
func Listen(ctx context.Context, db *sqlx.DB, channel string, h ListenHandler) error {
	dsn, ok := DSN(db)
	if !ok {
		return errors.New("postgres: Listen needs a pool made by Open")
	}
	// The listener's events, in the order they happened: a reconnection
	// is announced after the connection listens again.
	type event struct {
		ev  pq.ListenerEventType
		err error
	}
	events := make(chan event, 16)
	done := make(chan struct{})
	defer close(done)
	l := pq.NewListener(dsn, 100*time.Millisecond, 5*time.Second, func(ev pq.ListenerEventType, err error) {
		select {
		case events <- event{ev, err}:
		case <-done:
		}
	})
	defer l.Close()
	listening := make(chan error, 1)
	go func() { listening <- l.Listen(channel) }()
	select {
	case err := <-listening:
		if err != nil {
			return fmt.Errorf("postgres: listen %s: %w", channel, err)
		}
	case <-ctx.Done():
		return nil
	}
	if h.Ready != nil {
		h.Ready()
	}
	ping := time.NewTicker(listenPing)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-events:
			switch e.ev {
			case pq.ListenerEventReconnected:
				if h.Ready != nil {
					h.Ready()
				}
			case pq.ListenerEventDisconnected, pq.ListenerEventConnectionAttemptFailed:
				if h.Lost != nil {
					err := e.err
					if err == nil {
						err = errors.New("disconnected")
					}
					h.Lost(err)
				}
			}
		case n := <-l.Notify:
			if n != nil && h.Notify != nil {
				h.Notify(n.Extra)
			}
		case <-ping.C:
			go func() { _ = l.Ping() }()
		}
	}
}
