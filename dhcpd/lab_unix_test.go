package dhcpd

import "syscall"

const (
	syscallTERM = syscall.SIGTERM
	syscallUSR1 = syscall.SIGUSR1
)
