package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MetricAt sums the samples of metric prefix (or prefix_total), over all label sets, that
// the collector's Prometheus endpoint on 127.0.0.1:port serves.
func MetricAt(port int, prefix string) (float64, error) {
	byLabel, err := MetricByLabel(port, prefix, "")
	var sum float64
	for _, v := range byLabel {
		sum += v
	}
	return sum, err
}

// OpenSpansView is the part of the spanjournal extension's GET /v1/open-spans answer the
// harnesses read.
type OpenSpansView struct {
	TotalOpen     int64      `json:"total_open"`
	HeldSpans     int64      `json:"held_spans"`
	HeldTraces    int64      `json:"held_traces"`
	ReleasedSpans int64      `json:"released_spans"`
	OpenSpans     []OpenSpan `json:"open_spans"`
}

// OpenSpan is one row of the view.
type OpenSpan struct {
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id"`
	Name    string `json:"name"`
}

// viewClient asks for open-span views over kept-alive connections (a harness that asks
// often, as the testbed's held_scale does, measures the view, not TCP set-up).
var viewClient = &http.Client{Timeout: 5 * time.Second}

// OpenSpansAt reads the open-span view served on endpoint (host:port), listing at most
// limit open spans (limit <= 0: the extension's default).
func OpenSpansAt(endpoint string, limit int) (OpenSpansView, error) {
	v, _, err := OpenSpansTimed(endpoint, limit)
	return v, err
}

// OpenSpansTimed is OpenSpansAt that also returns the view's latency: from sending the
// request to the answer's last byte, as curl's time_total counts it. Decoding the JSON
// comes after it (for 1,000 rows it takes this client longer than the server takes to
// write them).
func OpenSpansTimed(endpoint string, limit int) (OpenSpansView, time.Duration, error) {
	var v OpenSpansView
	url := "http://" + endpoint + "/v1/open-spans"
	if limit > 0 {
		url += "?limit=" + strconv.Itoa(limit)
	}
	began := time.Now()
	resp, err := viewClient.Get(url)
	if err != nil {
		return v, 0, err
	}
	body, err := io.ReadAll(resp.Body) // to the end: the connection is reused
	_ = resp.Body.Close()
	took := time.Since(began)
	if err != nil {
		return v, took, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return v, took, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return v, took, fmt.Errorf("GET %s: %w", url, err)
	}
	return v, took, nil
}

// MetricByLabel reads metric name (or name_total) from the collector's Prometheus
// endpoint on 127.0.0.1:port and sums its samples by the value of label (samples without
// the label count under ""), over every other label.
func MetricByLabel(port int, name, label string) (map[string]float64, error) {
	out := map[string]float64{}
	err := scrape(port, name, func(metric, labels string, v float64) {
		if metric == name || metric == name+"_total" {
			out[labelValue(labels, label)] += v
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Histogram is a Prometheus histogram as scraped: cumulative counts by upper bound
// (le; +Inf included), summed over every other label.
type Histogram map[float64]float64

// HistogramAt reads the histogram whose name starts with prefix from the collector's
// Prometheus endpoint on 127.0.0.1:port; the exporter may append a unit (prefix_seconds).
// name is the full name found: "" and a nil Histogram when the metric is absent.
func HistogramAt(port int, prefix string) (name string, h Histogram, err error) {
	err = scrape(port, prefix, func(metric, labels string, v float64) {
		base, ok := strings.CutSuffix(metric, "_bucket")
		if !ok || (name != "" && base != name) {
			return
		}
		le := labelValue(labels, "le")
		bound, perr := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		if perr != nil {
			return
		}
		if h == nil {
			name, h = base, Histogram{}
		}
		h[bound] += v
	})
	return name, h, err
}

// QuantileSince is the q-quantile (0 < q ≤ 1) of the observations between the scrape
// before and h, interpolated linearly inside its bucket (the largest finite bound when
// it falls in +Inf), and how many observations there were; nil when there were none.
func (h Histogram) QuantileSince(before Histogram, q float64) (*float64, float64) {
	bounds := h.bounds()
	if len(bounds) == 0 {
		return nil, 0
	}
	total := h[bounds[len(bounds)-1]] - before[bounds[len(bounds)-1]]
	if total <= 0 {
		return nil, 0
	}
	rank := q * total
	prevB, prevC := 0.0, 0.0
	for _, b := range bounds {
		cum := h[b] - before[b]
		if cum >= rank {
			v := b
			if math.IsInf(b, 1) {
				v = prevB
			} else if cum > prevC {
				v = prevB + (b-prevB)*(rank-prevC)/(cum-prevC)
			}
			return &v, total
		}
		prevB, prevC = b, cum
	}
	return nil, total
}

// MaxSince bounds the largest observation between the scrape before and h: the upper
// bound of the lowest bucket that holds them all (+Inf if one passed the largest
// finite bound); nil when there were none.
func (h Histogram) MaxSince(before Histogram) *float64 {
	bounds := h.bounds()
	if len(bounds) == 0 {
		return nil
	}
	total := h[bounds[len(bounds)-1]] - before[bounds[len(bounds)-1]]
	if total <= 0 {
		return nil
	}
	for _, b := range bounds {
		if h[b]-before[b] >= total {
			return &b
		}
	}
	return nil
}

func (h Histogram) bounds() []float64 {
	bounds := make([]float64, 0, len(h))
	for b := range h {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	return bounds
}

// scrape calls fn for every sample of a metric whose name starts with prefix that the
// Prometheus endpoint on 127.0.0.1:port serves, with the metric's name, its label set
// (`a="x",b="y"`) and its value. It is the harness's one Prometheus text parser.
func scrape(port int, prefix string, fn func(metric, labels string, v float64)) error {
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /metrics on port %d: %s", port, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		metric, labels, rest := line, "", ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			metric, rest = line[:i], line[i:]
			if line[i] == '{' {
				j := strings.LastIndexByte(line, '}')
				if j < i {
					continue
				}
				labels, rest = line[i+1:j], line[j+1:]
			}
		}
		fs := strings.Fields(rest)
		if len(fs) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fs[0], 64)
		if err != nil {
			continue
		}
		fn(metric, labels, v)
	}
	return sc.Err()
}

// labelValue is the value of label in a Prometheus label set `a="x",b="y"` ("" if absent).
func labelValue(labels, label string) string {
	for labels != "" {
		eq := strings.IndexByte(labels, '=')
		if eq < 0 || eq+1 >= len(labels) || labels[eq+1] != '"' {
			return ""
		}
		key := strings.TrimSpace(labels[:eq])
		var val strings.Builder
		i := eq + 2
		for ; i < len(labels) && labels[i] != '"'; i++ {
			if labels[i] == '\\' && i+1 < len(labels) {
				i++
				switch labels[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(labels[i])
				}
				continue
			}
			val.WriteByte(labels[i])
		}
		if key == label {
			return val.String()
		}
		labels = strings.TrimLeft(labels[min(i+1, len(labels)):], ", ")
	}
	return ""
}
