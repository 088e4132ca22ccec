package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"time"
)

// verifyTimeout bounds one verification download.
const verifyTimeout = 30 * time.Second

// verifyHTTP downloads each file once from base and checks status, size and
// sha256, so a benchmark never measures error pages. Certificates are not
// checked (neither does wrk); the servers use phoneprov's own CA.
func verifyHTTP(ctx context.Context, base string, files ...testFile) error {
	client := &http.Client{
		Timeout: verifyTimeout,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-made CA on loopback
		},
	}
	defer client.CloseIdleConnections()
	for _, f := range files {
		if err := verifyOne(ctx, client, base+"/"+f.Name, f); err != nil {
			return err
		}
	}
	return nil
}

func verifyOne(ctx context.Context, client *http.Client, url string, f testFile) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("verify %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("verify %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("verify %s: status %s", url, resp.Status)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return fmt.Errorf("verify %s: read body: %w", url, err)
	}
	if n != f.Size || [sha256.Size]byte(h.Sum(nil)) != f.Sum {
		return fmt.Errorf("verify %s: got %d bytes with another sha256, want %d bytes", url, n, f.Size)
	}
	return nil
}
