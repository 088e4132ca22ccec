package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/internal/phoneprovconf"
	"github.com/phoneprov/phoneprov/deploy/netlab"
	"github.com/phoneprov/phoneprov/fileserve/tftpd/tftplab"
)

// The TFTP-under-loss scenario (-only tftp-loss), from issue 10: Avaya
// 4600/5600 phones fetch firmware over TFTP only, sometimes over bad links.
const (
	lossID        = "tftp-loss"
	lossPercent   = 10   // of UDP dropped on input in each namespace
	lossBlockSize = 1428 // atftp's blksize, as in the issue
	lossPort      = 69   // phoneprov's; tftpd-hpa gets lossPeerPort
	lossPeerPort  = 6969
	// lossLimit bounds one download: tftp-hpa with 512-byte blocks needs
	// about 2048 round trips for 1 MiB, a fifth of which lose a packet and
	// wait a retransmission timeout of 1 s or more.
	lossLimit = 30 * time.Minute
)

// lossAddrs: the server end (both servers) and the clients' end.
var (
	lossServerAddr = netip.MustParsePrefix("198.18.220.1/24")
	lossClientAddr = netip.MustParsePrefix("198.18.220.2/24")
)

// lossRun is one kind of client against one server.
type lossRun struct {
	Server  string // "phoneprov" or "tftpd-hpa"
	Client  tftplab.Client
	Count   int
	Outcome tftplab.Outcome
}

// lossReport is the scenario's outcome.
type lossReport struct {
	Size    int64
	HPA     int // tftp-hpa downloads per server
	ATFTP   int // atftp downloads per server
	Runs    []lossRun
	Servers [][]string // command lines as run
	Conf    string     // phoneprov's configuration
	Err     error      // the scenario could not be run to the end
}

// lossTools reports what the scenario needs and does not have.
func lossTools() error {
	errs := []error{netlab.Available(), tftplab.Available(tftplab.HPA, tftplab.ATFTP)}
	if _, err := exec.LookPath("nft"); err != nil {
		errs = append(errs, errors.New("nft (nftables) is not installed"))
	}
	return errors.Join(errs...)
}

// runTFTPLoss builds a two-namespace lab whose link drops lossPercent of
// UDP each way, starts phoneprov (TFTP only, defaults but for blksize_max)
// and tftpd-hpa (defaults) in the server namespace, and has every
// download of opts run against both at the same time from the client
// namespace: opts.LossATFTP atftp with blksize 1428 and opts.LossHPA
// tftp-hpa with 512-byte blocks, of one file of opts.LossSize random
// bytes, each checked by sha256.
func runTFTPLoss(ctx context.Context, opts options, ws *workspace, progress func(string)) *lossReport {
	rep := &lossReport{Size: opts.LossSize, HPA: opts.LossHPA, ATFTP: opts.LossATFTP}
	rep.Err = rep.run(ctx, opts, ws, progress)
	return rep
}

func (rep *lossReport) run(ctx context.Context, opts options, ws *workspace, progress func(string)) error {
	file := testFile{Name: "firmware-loss.bin", Size: opts.LossSize}
	if err := ws.add(&file); err != nil {
		return err
	}
	lab := netlab.New()
	defer lab.Close()
	srvNS, err := lab.Namespace("losssrv")
	if err != nil {
		return err
	}
	cliNS, err := lab.Namespace("losscli")
	if err != nil {
		return err
	}
	srvIf, cliIf, err := lab.Veth(srvNS, cliNS)
	if err != nil {
		return err
	}
	if err := srvNS.AddAddr(srvIf, lossServerAddr); err != nil {
		return err
	}
	if err := cliNS.AddAddr(cliIf, lossClientAddr); err != nil {
		return err
	}

	cs := &benchkit.Supervisor{CPUGroups: true}
	defer func() {
		if err := cs.StopAll(); err != nil {
			progress("tftp-loss cleanup: " + err.Error())
		}
	}()
	pp := netip.AddrPortFrom(lossServerAddr.Addr(), lossPort)
	peer := netip.AddrPortFrom(lossServerAddr.Addr(), lossPeerPort)
	conf := ws.path("phoneprov-loss.toml")
	if rep.Conf, err = phoneprovconf.Write(lossConfig(ws, pp), conf, "phoneprov under phonebench: TFTP only, in the lossy lab"); err != nil {
		return fmt.Errorf("tftp-loss: %w", err)
	}
	var started []*benchkit.Proc
	for _, argv := range [][]string{
		{opts.Phoneprov, "serve", "-c", conf},
		{opts.TFTPD, "--foreground", "--address", peer.String(), "--secure", "--blocksize", strconv.Itoa(tftpBlockSizeMax), ws.Files},
	} {
		full := append([]string{"ip", "netns", "exec", srvNS.Name}, argv...)
		name := "phoneprov"
		if argv[0] == opts.TFTPD {
			name = "tftpd-hpa"
		}
		c, err := cs.Start(benchkit.Spec{Name: name + "-loss", Log: ws.path(name + "-loss.log"), Argv: full})
		if err != nil {
			return err
		}
		started = append(started, c)
		rep.Servers = append(rep.Servers, full)
	}
	// Both must serve a small file before the link turns lossy.
	for _, addr := range []netip.AddrPort{pp, peer} {
		if err := lossProbe(ctx, cliNS, addr, ws); err != nil {
			return err
		}
	}
	for _, ns := range []*netlab.Namespace{srvNS, cliNS} {
		if err := ns.DropUDPInput(lossPercent); err != nil {
			return err
		}
	}

	progress(fmt.Sprintf("tftp-loss: %d atftp (blksize %d) + %d tftp-hpa downloads of %s against each server at once, %d%% UDP loss each way",
		opts.LossATFTP, lossBlockSize, opts.LossHPA, sizeName(opts.LossSize), lossPercent))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, srv := range []struct {
		name string
		addr netip.AddrPort
	}{{"phoneprov", pp}, {"tftpd-hpa", peer}} {
		for _, c := range []struct {
			client tftplab.Client
			bs, n  int
		}{{tftplab.ATFTP, lossBlockSize, opts.LossATFTP}, {tftplab.HPA, 0, opts.LossHPA}} {
			if c.n == 0 {
				continue
			}
			dir, err := os.MkdirTemp(ws.Dir, "loss-")
			if err != nil {
				return fmt.Errorf("tftp-loss: %w", err)
			}
			dls := make([]tftplab.Download, c.n)
			for i := range dls {
				dls[i] = tftplab.Download{Client: c.client, BlockSize: c.bs, File: file.Name, SHA256: file.Sum}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := tftplab.Run(ctx, cliNS, srv.addr, dir, dls, lossLimit)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Errorf("tftp-loss %s %s: %w", srv.name, c.client, err))
					return
				}
				rep.Runs = append(rep.Runs, lossRun{Server: srv.name, Client: c.client, Count: c.n, Outcome: out})
				progress(fmt.Sprintf("tftp-loss: %s, %s: %d of %d completed in %s", srv.name, c.client, out.Completed, c.n, out.Wall.Round(time.Second)))
			}()
		}
	}
	wg.Wait()
	for _, c := range started {
		if c.Exited() {
			errs = append(errs, c.Failure())
		}
	}
	return errors.Join(errs...)
}

// lossConfig is phoneprov's configuration in the lossy lab: TFTP only, on
// addr, with the block size cap tftpd-hpa gets too; the admin listener off.
func lossConfig(ws *workspace, addr netip.AddrPort) config.Config {
	cfg := phoneprovconf.New(ws.path("phoneprov-loss"), "", ws.Files)
	cfg.FileServe.TFTP.Enabled, cfg.FileServe.TFTP.Listen = true, []string{addr.String()}
	cfg.FileServe.TFTP.BlockSizeMax = tftpBlockSizeMax
	return cfg
}

// lossProbe downloads the small file once from addr, before loss is on.
func lossProbe(ctx context.Context, ns *netlab.Namespace, addr netip.AddrPort, ws *workspace) error {
	var last error
	for range 50 { // 5 s
		out, err := tftplab.Run(ctx, ns, addr, ws.Dir, []tftplab.Download{{Client: tftplab.HPA, File: ws.Small.Name, SHA256: ws.Small.Sum}}, 10*time.Second)
		if err != nil {
			return err
		}
		if out.Completed == 1 {
			return nil
		}
		last = errors.New(strings.Join(out.Errors, "; "))
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("tftp-loss: %s does not serve: %w", addr, last)
}

// cell returns the run of one client kind against one server.
func (rep *lossReport) cell(server string, client tftplab.Client) (lossRun, bool) {
	for _, r := range rep.Runs {
		if r.Server == server && r.Client == client {
			return r, true
		}
	}
	return lossRun{}, false
}

// rows returns the report's rows: client, load, then per server
// "completed of count" and wall time.
func (rep *lossReport) rows() [][]string {
	var out [][]string
	for _, c := range []struct {
		client tftplab.Client
		load   string
	}{
		{tftplab.ATFTP, fmt.Sprintf("%d × atftp --option \"blksize %d\", %s", rep.ATFTP, lossBlockSize, sizeName(rep.Size))},
		{tftplab.HPA, fmt.Sprintf("%d × tftp-hpa tftp (512-byte blocks), %s", rep.HPA, sizeName(rep.Size))},
	} {
		row := []string{c.load}
		for _, srv := range []string{"phoneprov", "tftpd-hpa"} {
			r, ok := rep.cell(srv, c.client)
			if !ok {
				row = append(row, "–", "–")
				continue
			}
			row = append(row, fmt.Sprintf("%d of %d", r.Outcome.Completed, r.Count), r.Outcome.Wall.Round(time.Second).String())
		}
		out = append(out, row)
	}
	return out
}

// writeTable prints the scenario's rows as aligned text.
func (rep *lossReport) writeTable(w io.Writer) {
	fmt.Fprintf(w, "TFTP, %d%% UDP LOSS EACH WAY\tPHONEPROV\tWALL\tTFTPD-HPA\tWALL\n", lossPercent)
	for _, row := range rep.rows() {
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	if rep.Err != nil {
		fmt.Fprintf(w, "ERROR %v\n", rep.Err)
	}
}

// writeMarkdown renders the scenario's section of the report.
func (rep *lossReport) writeMarkdown(b *strings.Builder) {
	fmt.Fprintf(b, "\n## TFTP with %d %% UDP loss each way (%s)\n\n", lossPercent, lossID)
	fmt.Fprintf(b, "- Two network namespaces joined by a veth pair (%s server end, %s clients), each dropping %d %% of the UDP it receives: `nft` rule `meta l4proto udp numgen random mod 100 < %d drop` on input.\n",
		lossServerAddr.Addr(), lossClientAddr.Addr(), lossPercent, lossPercent)
	b.WriteString("- phoneprov (TFTP only, defaults but `blksize_max = 1468`) on port 69 and tftpd-hpa (`in.tftpd`, defaults but `--blocksize 1468`) on port 6969 of the same address, served the same file at the same time; each client process downloads once, the file's sha256 is checked, and a download counts as completed only with the right content and exit status 0.\n")
	fmt.Fprintf(b, "- Clients with their own defaults: tftp-hpa `tftp -m binary HOST PORT -c get` (512-byte blocks, no options); atftp `--option \"blksize %d\" -g` (an OACK to acknowledge). Every download of a row started at once; wall = first start to last end (each bounded by %v).\n\n", lossBlockSize, lossLimit)
	b.WriteString("| Load (per server) | phoneprov completed | phoneprov wall | tftpd-hpa completed | tftpd-hpa wall |\n|---|--:|--:|--:|--:|\n")
	for _, row := range rep.rows() {
		fmt.Fprintf(b, "| %s |\n", strings.Join(row, " | "))
	}
	if rep.Err != nil {
		fmt.Fprintf(b, "\nERROR: %s\n", benchkit.MDEscape(rep.Err.Error()))
	}
	for _, r := range rep.Runs {
		if len(r.Outcome.Errors) > 0 {
			fmt.Fprintf(b, "\n%s, %s, first failures: `%s`\n", r.Server, r.Client, benchkit.MDEscape(strings.Join(r.Outcome.Errors, "`; `")))
		}
	}
	b.WriteString("\nServers as run:\n")
	for _, argv := range rep.Servers {
		fmt.Fprintf(b, "\n- `%s`\n", strings.Join(argv, " "))
	}
	fmt.Fprintf(b, "\n```\n%s```\n", rep.Conf)
}
