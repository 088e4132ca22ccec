//go:build 386 || arm || mips || mipsle || ppc

package nonblock

import "golang.org/x/sys/unix"

// sysSendfile is sendfile with a 64-bit offset; on 32-bit platforms the
// plain sendfile takes a 32-bit one (x/sys/unix's Sendfile uses the same).
const sysSendfile = unix.SYS_SENDFILE64
