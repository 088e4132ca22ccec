//go:build !(386 || arm || mips || mipsle || ppc)

package nonblock

import "golang.org/x/sys/unix"

// sysSendfile is sendfile, whose offset is 64 bits wide on 64-bit platforms.
const sysSendfile = unix.SYS_SENDFILE
