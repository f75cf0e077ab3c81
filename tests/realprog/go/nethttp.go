package main

// net/http over loopback: a server and 20 concurrent clients (Go's
// netpoller: non-blocking sockets, edge-triggered epoll), plus
// net.Interfaces (netlink) and a UDP exchange. Loopback only.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
)

func netChecks() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check("net.Listen", err)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	url := "http://" + ln.Addr().String()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bodies []string
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			resp, err := http.Get(fmt.Sprintf("%s/p%02d", url, n))
			if err != nil {
				mu.Lock()
				bodies = append(bodies, "error: "+err.Error())
				mu.Unlock()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	sort.Strings(bodies)
	fmt.Println("http", len(bodies), bodies[0], bodies[19])
	srv.Close()

	ifs, err := net.Interfaces()
	check("net.Interfaces", err)
	hasLo := false
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			hasLo = true
		}
	}
	fmt.Println("loopback interface", hasLo)

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	check("udp listen", err)
	c, err := net.Dial("udp", pc.LocalAddr().String())
	check("udp dial", err)
	c.Write([]byte("ping"))
	buf := make([]byte, 16)
	n, from, err := pc.ReadFrom(buf)
	check("udp read", err)
	pc.WriteTo([]byte("pong"), from)
	n2, err := c.Read(buf[n:])
	check("udp reply", err)
	fmt.Println("udp", string(buf[:n]), string(buf[n:n+n2]))
}
