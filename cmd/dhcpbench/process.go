package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/phoneprov/phoneprov/deploy/netlab"
)

// stopGrace is how long a server may take to exit after SIGTERM before its
// process group is killed.
const stopGrace = 5 * time.Second

// proc is a server process the benchmark started. `ip netns exec` execs the
// server in place, so the process is the server itself and its PID is the
// one to read /proc from. It leads its own process group, so a Ctrl-C at
// the terminal reaches only the benchmark, which then stops it.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string        // file with its stdout and stderr
	done chan struct{} // closed once it has exited
	err  error         // Wait's result, valid after done
}

// supervisor tracks every running server so that all of them are stopped
// on the way out, whichever way that is.
type supervisor struct {
	mu    sync.Mutex
	procs []*proc
}

// start runs argv inside ns with extra environment env, output to logPath.
func (s *supervisor) start(ns *netlab.Namespace, name, logPath string, env, argv []string) (*proc, error) {
	out, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer out.Close() // the child has its own descriptor
	cmd := ns.Command(context.Background(), argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p, nil
}

// childAttr gives a child its own process group and has the kernel kill it
// if the benchmark dies without cleaning up.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// stop stops p and forgets it; a process already stopped is left alone.
func (s *supervisor) stop(p *proc) error {
	s.mu.Lock()
	found := false
	for i, q := range s.procs {
		if q == p {
			s.procs = append(s.procs[:i], s.procs[i+1:]...)
			found = true
			break
		}
	}
	s.mu.Unlock()
	if !found {
		return nil
	}
	return p.stop()
}

// stopAll stops every process still running, the newest first.
func (s *supervisor) stopAll() error {
	s.mu.Lock()
	procs := s.procs
	s.procs = nil
	s.mu.Unlock()
	var errs []error
	for i := len(procs) - 1; i >= 0; i-- {
		errs = append(errs, procs[i].stop())
	}
	return errors.Join(errs...)
}

// pid is the server's process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after stopGrace,
// and waits for the exit. Once the process is reaped its group id may be
// reused, so a process that has exited gets no signal.
func (p *proc) stop() error {
	if p.exited() {
		return nil
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, pgid)
	}
}

// failure describes a process that exited when it should not have, with
// the end of its log.
func (p *proc) failure() error {
	msg := p.name + " exited"
	if p.err != nil {
		msg = fmt.Sprintf("%s exited: %v", p.name, p.err)
	}
	return errors.New(msg + logTail(p.log, 10))
}

// logTail returns the last n lines of a file, indented, for an error.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	lines = lines[max(0, len(lines)-n):]
	return "\n    " + strings.Join(lines, "\n    ")
}
