package ha

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// requestTimeout bounds one command to the partner, as Kea's
// TIMEOUT_DEFAULT_HTTP_CLIENT_REQUEST (10 s) does.
const requestTimeout = 10 * time.Second

// maxBody bounds a command or an answer read from the network; a page of
// 10,000 leases is about 3 MB.
const maxBody = 64 << 20

// errUnsupported is a partner answering result 2: it does not know the
// command (Kea falls back from ha-sync-complete-notify to dhcp-enable on it).
var errUnsupported = errors.New("ha: the partner does not support the command")

// peerClient posts commands to the partner.
type peerClient struct {
	url        string
	user, pass string
	http       *http.Client
}

// newPeerClient prepares the client of peer p; tlsCfg is nil without TLS.
func newPeerClient(p PeerConfig, tlsCfg *tls.Config) *peerClient {
	return &peerClient{
		url: p.URL, user: p.BasicAuthUser, pass: p.BasicAuthPassword,
		http: &http.Client{
			Timeout: requestTimeout,
			Transport: &http.Transport{
				MaxIdleConnsPerHost: 64,
				IdleConnTimeout:     90 * time.Second,
				TLSClientConfig:     tlsCfg,
			},
		},
	}
}

// do sends cmd and returns the answer's arguments; an answer other than
// success or empty (result 0 or 3) is an error, as verifyAsyncResponse has it.
func (p *peerClient) do(ctx context.Context, cmd Command) (Answer, error) {
	body, err := json.Marshal(cmd)
	if err != nil {
		return Answer{}, fmt.Errorf("ha: encode %s: %w", cmd.Command, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return Answer{}, fmt.Errorf("ha: %s to %s: %w", cmd.Command, p.url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if p.user != "" {
		req.SetBasicAuth(p.user, p.pass)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("ha: %s to %s: %w", cmd.Command, p.url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return Answer{}, fmt.Errorf("ha: %s to %s: read the answer: %w", cmd.Command, p.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Answer{}, fmt.Errorf("ha: %s to %s: HTTP %s: %.200s", cmd.Command, p.url, resp.Status, raw)
	}
	a, err := decodeAnswer(raw)
	if err != nil {
		return Answer{}, fmt.Errorf("ha: %s to %s: %w", cmd.Command, p.url, err)
	}
	switch a.Result {
	case ResultSuccess, ResultEmpty:
		return a, nil
	case ResultUnsupported:
		return a, fmt.Errorf("%w: %s: %s", errUnsupported, cmd.Command, a.Text)
	}
	return a, fmt.Errorf("ha: %s to %s: error code %d: %s", cmd.Command, p.url, a.Result, a.Text)
}

// close drops the idle connections.
func (p *peerClient) close() { p.http.CloseIdleConnections() }
