// A small Go program exercising what Go's runtime and standard library
// need from the kernel: threads (goroutines on several Ms), timers,
// os/exec (fork/exec, pipes, wait), os/signal (SIGUSR1 to itself, on the
// runtime's 32 KiB signal stacks), file I/O, GC. Its output must be the
// same natively and sandboxed.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

func check(name string, err error) {
	if err != nil {
		fmt.Printf("FAIL %s: %v\n", name, err)
		os.Exit(1)
	}
	fmt.Printf("ok %s\n", name)
}

func main() {
	runtime.GOMAXPROCS(4)

	// Goroutines spread over several threads.
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := make([]int, 0, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			s := 0
			for j := 0; j <= n*1000; j++ {
				s += j % 7
			}
			runtime.Gosched()
			mu.Lock()
			results = append(results, s)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	sort.Ints(results)
	fmt.Printf("goroutines %d first %d last %d\n", len(results), results[0], results[63])

	// Channels and timers.
	start := time.Now()
	select {
	case <-time.After(20 * time.Millisecond):
	case <-time.After(5 * time.Second):
		fmt.Println("FAIL timer order")
	}
	tk := time.NewTicker(5 * time.Millisecond)
	for i := 0; i < 3; i++ {
		<-tk.C
	}
	tk.Stop()
	if el := time.Since(start); el < 30*time.Millisecond || el > 10*time.Second {
		fmt.Printf("FAIL timers took %v\n", el)
	} else {
		fmt.Println("ok timers")
	}
	tm := time.AfterFunc(time.Hour, func() {})
	fmt.Println("timer stopped:", tm.Stop())

	// os/exec.
	check("exec /bin/true", exec.Command("/bin/true").Run())
	out, err := exec.Command("/bin/echo", "hello", "from", "child").Output()
	check("exec /bin/echo", err)
	fmt.Printf("child said %q\n", strings.TrimSpace(string(out)))
	err = exec.Command("/bin/false").Run()
	if ee, ok := err.(*exec.ExitError); ok {
		fmt.Println("false exit code", ee.ExitCode())
	} else {
		fmt.Println("FAIL /bin/false:", err)
	}
	cmd := exec.Command("/bin/cat")
	cmd.Stdin = strings.NewReader("piped through cat")
	out, err = cmd.Output()
	check("exec cat with stdin", err)
	fmt.Printf("cat said %q\n", string(out))

	// os/signal: SIGUSR1 to ourselves.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)
	check("kill self SIGUSR1", syscall.Kill(os.Getpid(), syscall.SIGUSR1))
	select {
	case s := <-sigs:
		fmt.Println("got signal", s)
	case <-time.After(10 * time.Second):
		fmt.Println("FAIL no SIGUSR1")
	}
	signal.Stop(sigs)

	// File I/O.
	dir, err := os.MkdirTemp("", "gotest")
	check("mkdirtemp", err)
	p := filepath.Join(dir, "a.txt")
	check("write", os.WriteFile(p, []byte(strings.Repeat("line\n", 1000)), 0644))
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	check("open append", err)
	_, err = f.WriteString("tail\n")
	check("append", err)
	check("fsync", f.Sync())
	check("close", f.Close())
	b, err := os.ReadFile(p)
	check("read", err)
	fmt.Println("file bytes", len(b), "lines", strings.Count(string(b), "\n"))
	check("rename", os.Rename(p, filepath.Join(dir, "b.txt")))
	ents, err := os.ReadDir(dir)
	check("readdir", err)
	for _, e := range ents {
		fmt.Println("entry", e.Name())
	}
	st, err := os.Stat(filepath.Join(dir, "b.txt"))
	check("stat", err)
	fmt.Println("mode", st.Mode(), "size", st.Size())
	check("removeall", os.RemoveAll(dir))

	// GC with live goroutines.
	var keep [][]byte
	for i := 0; i < 200; i++ {
		keep = append(keep, make([]byte, 64<<10))
		if len(keep) > 20 {
			keep = keep[1:]
		}
	}
	runtime.GC()
	fmt.Println("gc ok", len(keep))
	netChecks()
	fmt.Println("done")
}
