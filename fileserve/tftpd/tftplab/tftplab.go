// Package tftplab downloads files with real TFTP clients, tftp-hpa's tftp
// and atftp, run inside a network namespace, and counts the downloads that
// completed with the right content (SHA-256). Tests and benchmarks use it to
// compare TFTP servers on a lossy link (see netlab's DropUDPInput).
package tftplab

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/phoneprov/phoneprov/deploy/netlab"
)

// Client names a TFTP client program.
type Client string

// The clients a Download can use.
const (
	// HPA is tftp-hpa's tftp: 512-byte blocks, no options, 5 s
	// retransmission timeout, 25 s total (its defaults).
	HPA Client = "tftp"
	// ATFTP is atftp; with Download.BlockSize it asks for blksize (RFC
	// 2348) and so gets an OACK it must acknowledge.
	ATFTP Client = "atftp"
)

// Available reports which client programs are missing, or nil.
func Available(clients ...Client) error {
	var missing []string
	for _, c := range clients {
		if _, err := exec.LookPath(string(c)); err != nil {
			missing = append(missing, string(c))
		}
	}
	if missing != nil {
		return fmt.Errorf("tftplab: missing TFTP clients %s (Debian packages tftp-hpa, atftp)", strings.Join(missing, ", "))
	}
	return nil
}

// Download is one file to fetch.
type Download struct {
	Client Client
	// BlockSize, for atftp only, is sent as the blksize option when > 0.
	BlockSize int
	// File is the name to ask the server for.
	File string
	// SHA256 is the content expected.
	SHA256 [sha256.Size]byte
}

// Outcome counts the downloads of one Run.
type Outcome struct {
	Completed int           // right content, client exited 0
	Failed    int           // anything else
	Wall      time.Duration // from the start of the first to the end of the last
	// Errors holds the first few failures, one line each.
	Errors []string
}

// maxErrors bounds Outcome.Errors.
const maxErrors = 5

// Run starts every download at once inside ns against server, each one
// killed after limit, and waits for all of them. dir is a scratch
// directory for the downloaded files (removed as they are checked). The
// error is for what kept the downloads from running at all.
func Run(ctx context.Context, ns *netlab.Namespace, server netip.AddrPort, dir string, downloads []Download, limit time.Duration) (Outcome, error) {
	if ns == nil || !server.IsValid() || limit <= 0 {
		return Outcome{}, errors.New("tftplab: Run needs a namespace, a server address and a positive limit")
	}
	for _, d := range downloads {
		if d.Client != HPA && d.Client != ATFTP {
			return Outcome{}, fmt.Errorf("tftplab: unknown client %q", d.Client)
		}
		if d.File == "" || strings.ContainsAny(d.File, "\x00\n ") {
			return Outcome{}, fmt.Errorf("tftplab: bad file name %q", d.File)
		}
	}
	var (
		mu  sync.Mutex
		out Outcome
		wg  sync.WaitGroup
	)
	start := time.Now()
	for i, d := range downloads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := filepath.Join(dir, fmt.Sprintf("dl-%d-%s", i, d.Client))
			err := Fetch(ctx, ns, server, d, local, limit)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				out.Completed++
				return
			}
			out.Failed++
			if len(out.Errors) < maxErrors {
				out.Errors = append(out.Errors, fmt.Sprintf("%s %s: %v", d.Client, d.File, err))
			}
		}()
	}
	wg.Wait()
	out.Wall = time.Since(start)
	return out, ctx.Err()
}

// Fetch runs one download inside ns (in this process's namespace when ns
// is nil), killed after limit, into the file local, and checks the client's
// exit status and what it wrote; local is removed afterwards. Run uses it
// for every download; benchmarks call it in loops.
func Fetch(ctx context.Context, ns *netlab.Namespace, server netip.AddrPort, d Download, local string, limit time.Duration) error {
	defer os.Remove(local)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	host, port := server.Addr().String(), strconv.Itoa(int(server.Port()))
	var args []string
	switch d.Client {
	case HPA:
		args = []string{"-m", "binary", host, port, "-c", "get", d.File, local}
	case ATFTP:
		if d.BlockSize > 0 {
			args = append(args, "--option", "blksize "+strconv.Itoa(d.BlockSize))
		}
		args = append(args, "-g", "-r", d.File, "-l", local, host, port)
	default:
		return fmt.Errorf("tftplab: unknown client %q", d.Client)
	}
	cmd := exec.CommandContext(ctx, string(d.Client), args...)
	if ns != nil {
		cmd = ns.Command(ctx, string(d.Client), args...)
	}
	cmd.WaitDelay = time.Second
	outb, err := cmd.CombinedOutput()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("not done after %s: %s", limit, lastLines(outb))
	}
	if err != nil {
		return fmt.Errorf("%w: %s", err, lastLines(outb))
	}
	got, err := os.ReadFile(local)
	if err != nil {
		return fmt.Errorf("client exited 0 but: %w (%s)", err, lastLines(outb))
	}
	if sha256.Sum256(got) != d.SHA256 {
		return fmt.Errorf("wrong content: %d bytes (%s)", len(got), lastLines(outb))
	}
	return nil
}

// lastLines returns the last two lines a client printed, joined.
func lastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	lines = lines[max(0, len(lines)-2):]
	return strings.Join(lines, " / ")
}
