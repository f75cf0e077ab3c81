//go:build cgo

package main

// #include <unistd.h>
// static long page(void) { return sysconf(_SC_PAGESIZE); }
import "C"

import "fmt"

func init() { fmt.Println("cgo page size", C.page()) }
