//go:build !unix

package wal

import "os"

// lockDir is a no-op where flock is not available.
func lockDir(string) (*os.File, error) { return nil, nil }

func unlockDir(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Close()
}
