package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/internal/logging"
	"github.com/phoneprov/phoneprov/fileserve"
)

// accessLog writes one line per file request where [log] access says:
// the log at debug level (the default), at info level, its own file, or
// nowhere. A server error (5xx) is a warning in the log in every case, as
// nginx's error_log keeps errors when access_log is off.
type accessLog struct {
	log *slog.Logger // the appliance's log

	mu   sync.RWMutex // guards dest against a reload while a line is written
	dest accessDest
}

// accessDest is one setting of [log] access, with its file open.
type accessDest struct {
	level slog.Level   // for the appliance's log
	off   bool         // no request lines in the appliance's log
	file  *os.File     // nil: no file of its own
	flog  *slog.Logger // writes to file
}

// newAccessLog opens the access log that c describes.
func newAccessLog(c config.LogConfig, log *slog.Logger) (*accessLog, error) {
	d, err := openAccessDest(c)
	if err != nil {
		return nil, err
	}
	return &accessLog{log: log, dest: d}, nil
}

// openAccessDest opens what c.Access names; a file is opened for
// appending (and made, mode 0640, when missing).
func openAccessDest(c config.LogConfig) (accessDest, error) {
	switch c.Access {
	case config.AccessDebug:
		return accessDest{level: slog.LevelDebug}, nil
	case config.AccessInfo:
		return accessDest{level: slog.LevelInfo}, nil
	case config.AccessOff:
		return accessDest{off: true}, nil
	}
	f, err := os.OpenFile(c.Access, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return accessDest{}, fmt.Errorf("log.access: %w", err)
	}
	// The file gets every request whatever the log's level.
	c.Level = "debug"
	return accessDest{off: true, file: f, flog: slog.New(logging.NewHandler(c, f))}, nil
}

// swap puts d in place of the current destination (after a reload; the
// same file name is opened anew, so a rotated file is let go) and closes
// the old one's file.
func (l *accessLog) swap(d accessDest) error {
	l.mu.Lock()
	old := l.dest
	l.dest = d
	l.mu.Unlock()
	return old.close()
}

// close closes the file, if any.
func (l *accessLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dest.close()
}

func (d accessDest) close() error {
	if d.file == nil {
		return nil
	}
	if err := d.file.Close(); err != nil {
		return fmt.Errorf("close the access log: %w", err)
	}
	return nil
}

// ObserveAccess writes the line for ev where the setting says.
func (l *accessLog) ObserveAccess(ev fileserve.AccessEvent) {
	ctx := context.Background()
	l.mu.RLock()
	defer l.mu.RUnlock()
	d := l.dest
	level, toLog := d.level, !d.off
	if ev.Status >= 500 {
		level, toLog = slog.LevelWarn, true
	}
	toLog = toLog && l.log.Enabled(ctx, level)
	if !toLog && d.flog == nil {
		return // spare the attributes' formatting
	}
	attrs := accessAttrs(&ev)
	if toLog {
		l.log.LogAttrs(ctx, level, "access", attrs...)
	}
	if d.flog != nil {
		fileLevel := slog.LevelInfo
		if ev.Status >= 500 {
			fileLevel = slog.LevelWarn
		}
		d.flog.LogAttrs(ctx, fileLevel, "access", attrs...)
	}
}

// accessAttrs are the fields of an access line.
func accessAttrs(ev *fileserve.AccessEvent) []slog.Attr {
	attrs := []slog.Attr{
		slog.String("proto", ev.Protocol),
		slog.String("client", ev.Client.String()),
		slog.String("name", ev.Name),
		slog.Int("status", ev.Status),
		slog.Int64("bytes", ev.Bytes),
		slog.Duration("duration", ev.Duration),
	}
	if ev.Source != "" {
		attrs = append(attrs, slog.String("source", string(ev.Source)))
	}
	if ev.Resolved != "" && ev.Resolved != strings.TrimLeft(ev.Name, "/") {
		attrs = append(attrs, slog.String("served", ev.Resolved))
	}
	if ev.UserAgent != "" {
		attrs = append(attrs, slog.String("user_agent", ev.UserAgent))
	}
	if ev.Detail != "" {
		attrs = append(attrs, slog.String("detail", ev.Detail))
	}
	return attrs
}
