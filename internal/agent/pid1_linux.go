package agent

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// IsPID1Init reports whether this process is the build VM's /init.
func IsPID1Init() bool { return os.Getpid() == 1 && os.Args[0] == "/init" }

// RunPID1 runs Init as the build VM's PID 1. It never returns: when Init
// fails, the error goes to the console and the VM powers off.
func RunPID1() {
	err := Init()
	fmt.Fprintln(os.Stderr, "goldsmith agent: fatal:", err)
	time.Sleep(time.Second)
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}
