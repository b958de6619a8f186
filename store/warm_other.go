//go:build !linux

package store

import "errors"

func adviseHuge([]byte) {}

func populate([]byte) error { return errors.ErrUnsupported }
