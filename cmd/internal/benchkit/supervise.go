// Package benchkit is what the benchmark programs (phonebench, dhcpbench)
// share: starting and stopping the servers they measure, reading their CPU
// time and memory from /proc and cgroup v2, describing the machine, and
// the frame of the program itself with its table and Markdown report.
package benchkit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a server may take to exit after SIGTERM, and then
// after SIGKILL, before Stop gives up on it.
const stopGrace = 5 * time.Second

// Supervisor tracks every server a benchmark started, so that all of them
// are stopped on the way out, whichever way that is. The zero value is
// ready to use.
type Supervisor struct {
	// CPUGroups starts each server in a cgroup v2 group of its own (where
	// the machine has a writable one), so that its CPU time counts every
	// process it forks, reaped or not.
	CPUGroups bool

	mu    sync.Mutex
	procs []*Proc
}

// Spec is a server to start.
type Spec struct {
	Name string   // for messages and the cgroup's name
	Log  string   // file that receives its stdout and stderr
	Argv []string // program and arguments; `ip netns exec NS …` runs it in a namespace
	Env  []string // added to the benchmark's environment
}

// Proc is a server process the benchmark started. It leads its own process
// group, so a Ctrl-C at the terminal reaches only the benchmark, which then
// stops it, and the kernel kills it if the benchmark dies first.
type Proc struct {
	name  string
	cmd   *exec.Cmd
	log   string
	group *cpuGroup     // nil when it was started without one
	done  chan struct{} // closed once it has exited
	err   error         // Wait's result, valid after done

	stopOnce sync.Once
	stopErr  error
}

// Start runs the server described by spec.
func (s *Supervisor) Start(spec Spec) (*Proc, error) {
	if len(spec.Argv) == 0 {
		return nil, fmt.Errorf("start %s: no program", spec.Name)
	}
	out, err := os.Create(spec.Log)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	defer out.Close() // the child has its own descriptor
	var group *cpuGroup
	if s.CPUGroups {
		group, _ = newCPUGroup(spec.Name) // without one, CPU time comes from /proc
	}
	cmd := spec.command(out, group)
	err = cmd.Start()
	if err != nil && group != nil {
		// clone3 into a cgroup needs Linux 5.7; try the plain way.
		_ = group.remove()
		group = nil
		cmd = spec.command(out, nil)
		err = cmd.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &Proc{name: spec.Name, cmd: cmd, log: spec.Log, group: group, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p, nil
}

// command builds the process of spec, writing to out, in group if any.
func (spec Spec) command(out *os.File, group *cpuGroup) *exec.Cmd {
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	if len(spec.Env) > 0 {
		cmd.Env = append(os.Environ(), spec.Env...)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = ChildAttr()
	if group != nil {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, group.fd()
	}
	return cmd
}

// ChildAttr gives a child process its own process group and has the
// kernel kill it if the benchmark dies without cleaning up.
//
// The kernel sends that signal when the thread that started the child
// ends, not only the process (PR_SET_PDEATHSIG). The Go runtime ends a
// thread when a goroutine locked to it (runtime.LockOSThread) returns
// without unlocking, so a benchmark that starts servers must unlock the
// threads it locks: a CPU probe that retired its pinned thread that way
// killed nginx mid-run.
func ChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// Stop stops p and forgets it.
func (s *Supervisor) Stop(p *Proc) error {
	s.mu.Lock()
	for i, q := range s.procs {
		if q == p {
			s.procs = append(s.procs[:i], s.procs[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	return p.Stop()
}

// StopAll stops every server still tracked, the newest first.
func (s *Supervisor) StopAll() error {
	s.mu.Lock()
	procs := s.procs
	s.procs = nil
	s.mu.Unlock()
	var errs []error
	for i := len(procs) - 1; i >= 0; i-- {
		errs = append(errs, procs[i].Stop())
	}
	return errors.Join(errs...)
}

// Name is the name the server was started under.
func (p *Proc) Name() string { return p.name }

// Log is the file with the server's output.
func (p *Proc) Log() string { return p.log }

// Args is the command line the server was started with.
func (p *Proc) Args() []string { return p.cmd.Args }

// PID is the process id of the server's main process.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed once the server's main process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the server's main process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the server's process group, and SIGKILL if it has
// not exited within stopGrace; whatever is left in its cgroup is killed
// and the group removed. A server that had exited before Stop gets no
// signal (its group id may have been reused). Only the first call acts;
// later ones return its result.
func (p *Proc) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop() })
	return p.stopErr
}

func (p *Proc) stop() error {
	var err error
	if !p.Exited() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
		}
		// Forked transfers and workers may outlive the main process;
		// ESRCH when none is left.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			err = fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, pgid)
		}
	}
	if p.group == nil {
		return err
	}
	p.group.kill()
	return errors.Join(err, p.group.remove())
}

// CPUTime returns the CPU time the server and everything it forked have
// used: from its cgroup if it has one, else from /proc (see SampleTree).
func (p *Proc) CPUTime() (time.Duration, error) {
	if p.group != nil {
		return p.group.usage()
	}
	s, err := SampleTree(p.PID())
	return s.CPU, err
}

// CPUSource says where CPUTime comes from, for a report.
func (p *Proc) CPUSource() string {
	if p.group != nil {
		return "cgroup v2 cpu.stat"
	}
	return "/proc stat (misses exited children a server does not wait for)"
}

// Failure describes a server that exited when it should not have, with
// the end of its log.
func (p *Proc) Failure() error {
	msg := p.name + " exited"
	if p.err != nil {
		msg = fmt.Sprintf("%s exited: %v", p.name, p.err)
	}
	return errors.New(msg + LogTail(p.log))
}

// Alive returns Failure if the server has exited, else nil.
func (p *Proc) Alive() error {
	if p.Exited() {
		return p.Failure()
	}
	return nil
}

// LogTail returns the last ten lines of a log file, indented, to append
// to an error; "" when the file is empty or unreadable.
func LogTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	lines = lines[max(0, len(lines)-10):]
	return "\n    " + strings.Join(lines, "\n    ")
}
