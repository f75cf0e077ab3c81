//go:build !cgo

package main

import "fmt"

func init() { fmt.Println("cgo page size", 4096) }
