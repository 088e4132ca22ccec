// Command phonesim boots simulated desk phones against a provisioning
// server: Avaya 4600, 1600, 96x1 and J100, Cisco 79xx and MPP, Polycom,
// Yealink, snom, Grandstream, Mitel MiNet and Aastra/Mitel SIP phones, each
// with the MAC prefix, DHCP options, User-Agent and first files the phone
// fact table in testdata/phones gives for the real model.
// It is the lab bench and the boot-storm load tool of phoneprov, and checks
// the server independently: it imports none of phoneprov's packages.
//
//	ip netns exec pp-lab-phones phonesim -i veth0 -phones 50 -spread 5s
//
// See phonesim -h for the options and -models for the phones.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/dhcpc"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/ifaddr"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/phone"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/storm"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/tftpc"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseOptions(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		return exitUsage
	}
	if opts.Models {
		writeModels(stdout, opts.Catalog)
		return exitOK
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	level := slog.LevelWarn
	if opts.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	sum, err := simulate(ctx, opts, stderr, log)
	if err != nil {
		fmt.Fprintf(stderr, "phonesim: %v\n", err)
		return exitFailed
	}
	if err := report(stdout, opts, sum); err != nil {
		fmt.Fprintf(stderr, "phonesim: %v\n", err)
		return exitFailed
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "phonesim: interrupted; addresses removed")
		return exitInterrupted
	case !sum.OK():
		return exitFailed
	}
	return exitOK
}

// simulate opens the shared DHCP socket and the address keeper, runs the
// storm and cleans up. It fails only when the storm could not start.
func simulate(ctx context.Context, opts options, stderr io.Writer, log *slog.Logger) (storm.Summary, error) {
	client, err := dhcpc.Listen(ctx, opts.Interface)
	if err != nil {
		return storm.Summary{}, err
	}
	defer client.Close()
	keeper, err := ifaddr.Open(opts.Interface)
	if err != nil {
		return storm.Summary{}, err
	}
	defer func() {
		if err := keeper.Close(); err != nil {
			fmt.Fprintf(stderr, "phonesim: removing addresses: %v\n", err)
		}
	}()
	serveCtx, stopServe := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- client.Serve(serveCtx) }()
	defer func() {
		stopServe()
		if err := <-served; err != nil {
			fmt.Fprintf(stderr, "phonesim: %v\n", err)
		}
	}()

	cfg := storm.Config{
		Phones: opts.Phones, Mix: opts.Mix, Spread: opts.Spread, Seed: opts.Seed, PhoneTimeout: opts.PhoneTimeout,
		Env: phone.Env{
			DHCP: client, Addresses: keeper,
			DHCPRetry:  dhcpc.Retry{First: opts.DHCPFirst, Max: opts.DHCPMax, Jitter: min(time.Second, opts.DHCPFirst/4), Attempts: opts.DHCPAttempts},
			FetchTries: opts.FetchTries, FetchBackoff: opts.FetchBackoff, FetchBackoffMax: opts.FetchBackoffMax,
			RefuseFirmware: opts.RefuseFirmware,
			ConnectTimeout: opts.ConnectTimeout, RequestTimeout: opts.RequestTimeout,
			TFTP:        tftpc.Options{BlockSize: opts.TFTPBlockSize, TSize: true, Timeout: opts.TFTPTimeout, Retries: opts.TFTPRetries},
			TFTPPort:    uint16(opts.TFTPPort),
			RebootDelay: opts.RebootDelay,
			Log:         log,
		},
	}
	phones := storm.Build(cfg)
	if opts.State != "" {
		n, err := loadState(opts.State, phones)
		if err != nil {
			return storm.Summary{}, err
		}
		fmt.Fprintf(stderr, "phonesim: %d phones as %s left them\n", n, opts.State)
	}
	fmt.Fprintf(stderr, "phonesim: %d phones on %s (%s), spread %s, seed %d\n", len(phones), opts.Interface, storm.Models(opts.Catalog, phones), opts.Spread, opts.Seed)
	mode := opts.Progress
	if mode == "auto" {
		mode = "lines"
		if isTerminal(stderr) {
			mode = "bar"
		}
	}
	every := opts.ProgressEvery
	switch mode {
	case "bar":
		if every == 0 {
			every = 200 * time.Millisecond
		}
		cfg.Progress = func(s storm.Snapshot) { storm.Bar(stderr, s, s.Done() == s.Phones) }
	case "lines":
		if every == 0 {
			every = 5 * time.Second
		}
		cfg.Progress = func(s storm.Snapshot) { storm.Line(stderr, s) }
	}
	cfg.ProgressEvery = every
	sum := storm.Run(ctx, cfg, phones)
	sum.DHCP = client.Stats()
	if opts.State != "" {
		if err := saveState(opts.State, phones); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// report writes the summary as text or JSON.
func report(w io.Writer, opts options, sum storm.Summary) error {
	if opts.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	if opts.List {
		fmt.Fprintf(w, "%-17s %-9s %-15s %-11s %-22s %-5s %8s  %s\n", "MAC", "MODEL", "ADDRESS", "STATE", "FIRMWARE", "BOOTS", "TIME", "STEP/REASON")
		for _, r := range sum.Results {
			fw := r.Firmware
			if r.Firmware != r.FirmwareBefore {
				fw = r.FirmwareBefore + "→" + r.Firmware
			}
			why := ""
			if r.State == phone.Failed {
				why = r.Step + ": " + r.Reason
			}
			fmt.Fprintf(w, "%-17s %-9s %-15s %-11s %-22s %-5d %8s  %s\n", r.MAC, r.Model, r.Addr, r.State, fw, r.Boots, r.Elapsed.Round(time.Millisecond), why)
		}
		fmt.Fprintln(w)
	}
	return sum.WriteText(w, opts.MaxFailures)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
