package ha

import (
	"context"
	"crypto/tls"
	"log/slog"
	"sync/atomic"
)

// backupQueueLen bounds the lease updates waiting for one backup server;
// past it an update is dropped and counted as failed, so a dead or slow
// backup never holds the DHCP service (Kea queues per peer too and only
// warns when a queue grows: HTTP_CLIENT_QUEUE_SIZE_GROWING).
const backupQueueLen = 4096

// backupSender sends this active server's lease updates to one backup
// server, in order, without anyone waiting for them: Kea 2.2 sends every
// lease update to each backup in every state and ignores the outcome
// unless wait-backup-ack is set ("We don't care about the result of the
// lease update to the backup server. It is a best effort update.":
// ha_service.cc, asyncSendLeaseUpdate and shouldSendLeaseUpdates,
// Kea-2.2.0 lines 1406-1430 and 1457-1466).
type backupSender struct {
	peer   PeerConfig
	client *peerClient
	queue  chan Command
	// sent and failed count the updates the backup took and those it did
	// not (refused, unreachable, or dropped because the queue was full).
	sent, failed atomic.Int64
	// failing is whether the last update failed, to log a failure once
	// and the recovery once rather than every update.
	failing atomic.Bool
}

func newBackupSender(p PeerConfig, tlsCfg *tls.Config) *backupSender {
	return &backupSender{peer: p, client: newPeerClient(p, tlsCfg), queue: make(chan Command, backupQueueLen)}
}

// enqueue hands cmd to the sender without waiting; a full queue drops it.
func (b *backupSender) enqueue(cmd Command) {
	select {
	case b.queue <- cmd:
	default:
		b.failed.Add(1)
	}
}

// run sends the queued updates until ctx ends.
func (b *backupSender) run(ctx context.Context, log *slog.Logger) {
	defer b.client.close()
	for {
		select {
		case <-ctx.Done():
			return
		case cmd := <-b.queue:
			b.send(ctx, cmd, log)
		}
	}
}

func (b *backupSender) send(ctx context.Context, cmd Command, log *slog.Logger) {
	_, err := b.client.do(ctx, cmd)
	if err != nil {
		b.failed.Add(1)
		if !b.failing.Swap(true) && ctx.Err() == nil {
			log.Warn("ha: a lease update to the backup server failed; DHCP goes on, failures are counted", "backup", b.peer.Name, "err", err)
		}
		return
	}
	b.sent.Add(1)
	if b.failing.Swap(false) {
		log.Info("ha: the backup server takes lease updates again", "backup", b.peer.Name)
	}
}

// BackupReport is one backup server as an active server sees it.
type BackupReport struct {
	Name, URL string
	// Sent and Failed count the lease updates the backup took and those
	// it did not; Queued are waiting to be sent.
	Sent, Failed int64
	Queued       int
}

func (b *backupSender) report() BackupReport {
	return BackupReport{Name: b.peer.Name, URL: b.peer.URL, Sent: b.sent.Load(), Failed: b.failed.Load(), Queued: len(b.queue)}
}
