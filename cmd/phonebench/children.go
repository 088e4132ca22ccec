package main

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

// stopGrace is how long a server may take to exit after SIGTERM before its
// whole process group is killed.
const stopGrace = 5 * time.Second

// child is a server process started by the benchmark, leading its own
// process group so that it and anything it forks can be stopped together.
type child struct {
	name  string
	cmd   *exec.Cmd
	log   string        // file with the child's stdout and stderr
	group *cpuGroup     // the cgroup it was started in; nil if none could be made
	done  chan struct{} // closed when the process has exited
	err   error         // Wait's result, valid after done
}

// children tracks every server the benchmark started, to stop them all on
// the way out, whatever the way out is.
type children struct {
	mu   sync.Mutex
	list []*child
}

// sysProcAttr puts a child in its own process group (so terminal signals
// reach only the benchmark, which then stops the child) and has the kernel
// kill it if the benchmark dies without cleaning up.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// start runs argv with its output going to logPath, inside a new cgroup
// when it can make one.
func (cs *children) start(name, logPath string, argv ...string) (*child, error) {
	out, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer out.Close() // the child has its own copy
	command := func(group *cpuGroup) *exec.Cmd {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = sysProcAttr()
		if group != nil {
			cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, group.fd()
		}
		return cmd
	}
	group, err := newCPUGroup(name)
	if err != nil {
		group = nil // CPU time then comes from /proc
	}
	cmd := command(group)
	err = cmd.Start()
	if err != nil && group != nil {
		// clone3 into a cgroup needs Linux 5.7; try the plain way.
		_ = group.remove()
		group = nil
		cmd = command(nil)
		err = cmd.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, group: group, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	cs.mu.Lock()
	cs.list = append(cs.list, c)
	cs.mu.Unlock()
	return c, nil
}

// stopAll stops every child, the most recently started first.
func (cs *children) stopAll() error {
	cs.mu.Lock()
	list := cs.list
	cs.list = nil
	cs.mu.Unlock()
	var errs []error
	for i := len(list) - 1; i >= 0; i-- {
		errs = append(errs, list[i].stop())
	}
	return errors.Join(errs...)
}

// pid returns the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the child's process group, and SIGKILL if it has
// not exited within stopGrace. Leftover group members are killed too, and
// so is anything left in its cgroup, which is then removed.
func (c *child) stop() error {
	pgid := c.cmd.Process.Pid
	if !c.exited() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(stopGrace):
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // forked transfers, workers; ESRCH when none is left
	<-c.done
	if c.group == nil {
		return nil
	}
	c.group.kill()
	return c.group.remove()
}

// cpuTime returns the CPU time the child and everything it forked have
// used: from its cgroup if it has one, else from /proc (see sampleTree).
func (c *child) cpuTime() (time.Duration, error) {
	if c.group != nil {
		return c.group.usage()
	}
	s, err := sampleTree(c.pid())
	return s.CPU, err
}

// cpuSource says where cpuTime comes from, for the report.
func (c *child) cpuSource() string {
	if c.group != nil {
		return "cgroup v2 cpu.stat"
	}
	return "/proc stat (misses exited children a server does not wait for)"
}

// failure describes a child that exited when it should not have, with the
// end of its log.
func (c *child) failure() error {
	msg := fmt.Sprintf("%s exited", c.name)
	if c.err != nil {
		msg = fmt.Sprintf("%s exited: %v", c.name, c.err)
	}
	return errors.New(msg + logTail(c.log))
}

// logTail returns the last lines of a log file, indented, for an error.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	lines = lines[max(0, len(lines)-10):]
	return "\n    " + strings.Join(lines, "\n    ")
}
