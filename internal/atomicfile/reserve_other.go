//go:build !linux

package atomicfile

import "os"

func openUnnamed(string, string, os.FileMode) (*os.File, error) { return nil, errNoUnnamed }

func linkUnnamed(*os.File, string) error { return errNoUnnamed }
