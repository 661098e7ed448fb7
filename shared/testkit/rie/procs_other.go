//go:build !linux

package rie

import (
	"os"
	"os/exec"
	"syscall"
)

// The emulator targets Linux. Elsewhere, these fallbacks keep the package
// building, but a killed emulator may leave its function running.

func setParentDeathSignal(*exec.Cmd) {}

func childPIDs(int) []int { return nil }

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
