// Command idleconns opens many idle LDAP connections to measure what they
// cost a server: each connection binds anonymously, then all stay open
// until the hold time ends, while the caller reads the server's VmRSS.
// Connections come from 127.0.0.2 to 127.0.0.9 in turn so that a
// per-address cap (ldap.max_conns_per_ip) does not refuse them.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:1389", "LDAP server address")
	n := flag.Int("n", 1000, "connections to open (at most 20000)")
	hold := flag.Duration("hold", 10*time.Second, "how long to keep them open (at most 10m)")
	flag.Parse()
	if *n < 1 || *n > 20000 || *hold > 10*time.Minute {
		fmt.Fprintln(os.Stderr, "idleconns: -n must be 1..20000 and -hold at most 10m")
		os.Exit(2)
	}
	conns := make([]*ldap.Conn, 0, *n)
	for i := range *n {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%8))}, Timeout: 5 * time.Second}
		c, err := ldap.DialURL("ldap://"+*addr, ldap.DialWithDialer(d))
		if err == nil {
			err = c.UnauthenticatedBind("")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "idleconns: connection %d: %v\n", i+1, err)
			os.Exit(1)
		}
		conns = append(conns, c)
	}
	fmt.Printf("open %d\n", len(conns))
	time.Sleep(*hold)
	for _, c := range conns {
		c.Close()
	}
}
