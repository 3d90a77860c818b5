package topology

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// WriteShardLists records the gateways' shard lists in the deployment file at path and
// changes nothing else in it: only the items of each `shards` list whose shards differ
// from d's are rewritten, in place and in the style they were written in, and every
// other byte of the file — comments (also those between and after a block list's
// items), blank lines, key order, quoting elsewhere — is kept. The result is read back
// and checked against d before it atomically replaces the file.
func (d *Deployment) WriteShardLists(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := d.EditShardLists(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if string(out) == string(raw) {
		return nil
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	return writeAtomic(path, out, mode)
}

// EditShardLists returns the deployment file raw with d's shard lists, as
// WriteShardLists writes it (it writes nothing and does not modify raw).
func (d *Deployment) EditShardLists(raw []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	_, gateways := mappingEntry(root, "gateways")
	if gateways == nil || gateways.Kind != yaml.MappingNode {
		return nil, errors.New("no gateways mapping")
	}
	f := &yamlText{raw: raw, lines: lineStarts(raw)}
	for _, name := range d.GatewayNames() {
		_, g := mappingEntry(gateways, name)
		if g == nil {
			return nil, fmt.Errorf("gateways::%s: not in the file", name)
		}
		key, list := mappingEntry(g, "shards")
		if list == nil || list.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("gateways::%s: write its shards as a list (`shards: []` for none) so that they can be changed", name)
		}
		var have ShardList
		if err := list.Decode(&have); err != nil {
			return nil, fmt.Errorf("gateways::%s::shards: %w", name, err)
		}
		want := slices.Clone(d.Gateways[name].Shards)
		sort.Ints(want)
		if slices.Equal([]int(have), want) {
			continue
		}
		if err := f.setShards(key, list, ShardList(want)); err != nil {
			return nil, fmt.Errorf("gateways::%s::shards (line %d): %w", name, list.Line, err)
		}
	}
	out := f.apply()
	back, err := parse(out)
	if err != nil {
		return nil, fmt.Errorf("the edited file does not parse: %w", err)
	}
	for _, name := range d.GatewayNames() {
		got, ok := back.Gateways[name]
		if !ok || !slices.Equal([]int(got.Shards), []int(d.Gateways[name].Shards)) {
			return nil, fmt.Errorf("the edited file does not give gateway %s shards %v", name, d.Gateways[name].Shards)
		}
	}
	return out, nil
}

// mappingEntry is the key node and the value node of key in mapping n (nils when n is
// no mapping or lacks the key).
func mappingEntry(n *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// yamlText is a YAML file and the edits to make to its text.
type yamlText struct {
	raw   []byte
	lines []int // byte offset of each line's start
	edits []textEdit
}

// textEdit replaces raw[from:to] (an insertion when from == to).
type textEdit struct {
	from, to int
	text     string
}

func lineStarts(raw []byte) []int {
	starts := []int{0}
	for i, b := range raw {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

func (f *yamlText) edit(from, to int, text string) {
	f.edits = append(f.edits, textEdit{from, to, text})
}

// apply makes the edits, which do not overlap, from the last to the first.
func (f *yamlText) apply() []byte {
	sort.SliceStable(f.edits, func(i, j int) bool { return f.edits[i].from > f.edits[j].from })
	out := slices.Clone(f.raw)
	for _, e := range f.edits {
		out = slices.Concat(out[:e.from], []byte(e.text), out[e.to:])
	}
	return out
}

// setShards rewrites a shards list. A flow list is written anew, `[0-3, 9]`. A block
// list keeps its lines: items are replaced in place, new ones get lines of their own
// after the last, and a removed item's line goes, unless it has a comment, which
// stays on it; a list left empty becomes `shards: []`.
func (f *yamlText) setShards(key, list *yaml.Node, want ShardList) error {
	parts := shardItems(want)
	from, err := f.offset(list.Line, list.Column)
	if err != nil {
		return err
	}
	if list.Style&yaml.FlowStyle != 0 {
		to, err := f.flowEnd(from)
		if err != nil {
			return err
		}
		f.edit(from, to, "["+strings.Join(parts, ", ")+"]")
		return nil
	}
	type item struct{ dash, start, end int }
	var items []item
	for _, it := range list.Content {
		if it.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: a shard is not a number or a range", it.Line)
		}
		start, err := f.offset(it.Line, it.Column)
		if err != nil {
			return err
		}
		dash := start - 1
		for dash > 0 && (f.raw[dash] == ' ' || f.raw[dash] == '\t') {
			dash--
		}
		if dash < 0 || f.raw[dash] != '-' {
			return fmt.Errorf("line %d: expected '- ' before the item", it.Line)
		}
		items = append(items, item{dash, start, scalarEnd(f.raw, start)})
	}
	if len(items) == 0 {
		return errors.New("an empty block list")
	}
	first := items[0]
	indent := strings.Repeat(" ", utf8.RuneCount(f.raw[f.lineStart(first.dash):first.dash]))
	kept := min(len(items), len(parts))
	for i := range kept {
		f.edit(items[i].start, items[i].end, parts[i])
	}
	if len(parts) > len(items) {
		eol := f.lineEnd(items[len(items)-1].end)
		f.edit(eol, eol, "\n"+indent+"- "+strings.Join(parts[len(items):], "\n"+indent+"- "))
	}
	for _, it := range items[kept:] {
		ls, eol := f.lineStart(it.dash), f.lineEnd(it.end)
		rest := strings.TrimLeft(string(f.raw[it.end:eol]), " \t")
		if rest == "" && strings.TrimSpace(string(f.raw[ls:it.dash])) == "" {
			f.edit(ls, min(eol+1, len(f.raw)), "") // the whole line
		} else {
			f.edit(it.dash, eol-len(rest), "") // "- item  ", keeping its comment
		}
	}
	if len(parts) == 0 {
		// No item left: the key's value becomes an empty flow list.
		k, err := f.offset(key.Line, key.Column)
		if err != nil {
			return err
		}
		colon := scalarEnd(f.raw, k)
		for colon < len(f.raw) && f.raw[colon] != ':' {
			colon++
		}
		if colon == len(f.raw) {
			return fmt.Errorf("line %d: no ':' after the key", key.Line)
		}
		f.edit(colon+1, colon+1, " []")
	}
	return nil
}

// lineStart is the offset of the start of off's line.
func (f *yamlText) lineStart(off int) int {
	i := sort.Search(len(f.lines), func(i int) bool { return f.lines[i] > off })
	return f.lines[i-1]
}

// lineEnd is the offset of the newline that ends off's line (or the end of the file).
func (f *yamlText) lineEnd(off int) int {
	for off < len(f.raw) && f.raw[off] != '\n' {
		off++
	}
	return off
}

// flowEnd is the offset after the ']' that closes the flow list starting at from.
func (f *yamlText) flowEnd(from int) (int, error) {
	if f.raw[from] != '[' {
		return 0, errors.New("expected '[' where the list starts")
	}
	for i := from + 1; i < len(f.raw); i++ {
		switch f.raw[i] {
		case ']':
			return i + 1, nil
		case '"', '\'':
			i = scalarEnd(f.raw, i) - 1
		case '#':
			return 0, errors.New("a comment inside a [...] list: write the list on one line, or as a block list (one '- item' a line)")
		}
	}
	return 0, errors.New("the list has no closing ']'")
}

// offset is the byte offset of a node's line and column (1-based, the column counted
// in characters, as yaml.v3 counts it).
func (f *yamlText) offset(line, column int) (int, error) {
	if line < 1 || line > len(f.lines) {
		return 0, fmt.Errorf("line %d is outside the file", line)
	}
	off := f.lines[line-1]
	for c := 1; c < column; c++ {
		if off >= len(f.raw) || f.raw[off] == '\n' {
			return 0, fmt.Errorf("column %d is past the end of line %d", column, line)
		}
		_, size := utf8.DecodeRune(f.raw[off:])
		off += size
	}
	return off, nil
}

// scalarEnd is the end of the one-line scalar that starts at start: after its closing
// quote, or before the comment, spaces or end of line after a plain one (or the ',' or
// ']' after it in a flow list).
func scalarEnd(raw []byte, start int) int {
	if q := raw[start]; q == '"' || q == '\'' {
		for i := start + 1; i < len(raw) && raw[i] != '\n'; i++ {
			if q == '"' && raw[i] == '\\' {
				i++
				continue
			}
			if raw[i] == q {
				return i + 1
			}
		}
		return start + 1
	}
	// A comment starts at a '#' after a blank.
	comment := func(i int) bool { return raw[i] == '#' && i > start && (raw[i-1] == ' ' || raw[i-1] == '\t') }
	end := start
	for end < len(raw) && raw[end] != '\n' && raw[end] != ',' && raw[end] != ']' && raw[end] != ':' && !comment(end) {
		end++
	}
	return start + len(strings.TrimRight(string(raw[start:end]), " \t"))
}

// shardItems writes a shard list's items, with ranges ("0-3").
func shardItems(l ShardList) []string {
	items, _ := l.MarshalYAML()
	var parts []string
	for _, it := range items.([]any) {
		parts = append(parts, fmt.Sprint(it))
	}
	return parts
}
