package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
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

// OpenSpansAt reads the open-span view served on endpoint (host:port), listing at most
// limit open spans (limit <= 0: the extension's default).
func OpenSpansAt(endpoint string, limit int) (OpenSpansView, error) {
	var v OpenSpansView
	url := "http://" + endpoint + "/v1/open-spans"
	if limit > 0 {
		url += "?limit=" + strconv.Itoa(limit)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return v, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return v, fmt.Errorf("GET %s: %w", url, err)
	}
	return v, nil
}

// MetricByLabel reads metric name (or name_total) from the collector's Prometheus
// endpoint on 127.0.0.1:port and sums its samples by the value of label (samples without
// the label count under ""), over every other label.
func MetricByLabel(port int, name, label string) (map[string]float64, error) {
	hc := &http.Client{Timeout: 3 * time.Second}
	resp, err := hc.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics on port %d: %s", port, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
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
		if metric != name && metric != name+"_total" {
			continue
		}
		fs := strings.Fields(rest)
		if len(fs) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fs[0], 64)
		if err != nil {
			continue
		}
		out[labelValue(labels, label)] += v
	}
	return out, sc.Err()
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
