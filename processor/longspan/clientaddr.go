package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"net/netip"
	"strings"

	"go.opentelemetry.io/collector/client"
)

// maxClientKeyLen bounds a client key taken from a header that is not an address, so
// that a client cannot make the quota index hold long strings.
const maxClientKeyLen = 64

// clientOf returns the client a request counts against for the per_client quota and
// the session rule: the right-most entry of quotas.client_address_header when it is
// set and the request carries it (the address the nearest proxy saw), else the
// connection's peer address; "" when the receiver passed neither.
func (p *longspanProcessor) clientOf(ctx context.Context) string {
	info := client.FromContext(ctx)
	if h := p.cfg.Quotas.ClientAddressHeader; h != "" {
		if vs := info.Metadata.Get(h); len(vs) > 0 {
			last := vs[len(vs)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if last = strings.TrimSpace(last); last != "" {
				return clientKey(last)
			}
		}
	}
	if info.Addr == nil {
		return ""
	}
	return clientKey(info.Addr.String())
}

// clientKey turns an address into a client key: an IPv4 address without its port, or
// the /64 prefix of an IPv6 address (one subscriber commonly holds a whole /64, so
// its addresses are one client). Anything else is kept as it is, truncated.
func clientKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		ap, perr := netip.ParseAddrPort(addr)
		if perr != nil {
			if len(addr) > maxClientKeyLen {
				addr = addr[:maxClientKeyLen]
			}
			return addr
		}
		a = ap.Addr()
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		prefix, _ := a.Prefix(64)
		return prefix.String()
	}
	return a.String()
}
