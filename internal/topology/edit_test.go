package topology

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A deployment file as people write them: comments everywhere, blank lines, block and
// flow lists, a quoted item, non-ASCII before a list on its line.
const commented = `# Our deployment.   (header comment)

shards: 8        # fixed for life
base_port: 14000
endpoint: "127.0.0.1:{port}"
listen: 127.0.0.1:{port}
journal_root: ./j

gateways:
  # gw-a takes the first half
  gw-a:
    shards:
      - 0-2      # the old ones
      # shard 3 came later
      - "3"
    health: 127.0.0.1:1  # health
  gw-b: {config: "é.yaml", shards: [4-6, 7], health: 127.0.0.1:2}   # flow
  gw-c:
    shards: []   # standby
    health: 127.0.0.1:3

exporters:
  file/t: {path: "./out/{gateway}/t.jsonl"}   # one file each
sampled_exporters: [file/t]
# trailing comment
`

func commentLines(src string) []string {
	var out []string
	for _, line := range strings.Split(src, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			out = append(out, line[i:])
		}
	}
	return out
}

func TestWriteShardListsChangesOnlyTheLists(t *testing.T) {
	tests := []struct {
		name   string
		moves  map[int]string
		change map[string]string // old text -> new text; nothing else may change
	}{
		{"a flow list gives one, an empty one takes it",
			map[int]string{7: "gw-c"},
			map[string]string{"shards: [4-6, 7]": "shards: [4-6]", "shards: []   # standby": "shards: [7]   # standby"}},
		{"a block list gains an item on a line of its own",
			map[int]string{5: "gw-a"},
			map[string]string{"- 0-2 ": "- 0-3 ", `- "3"`: "- 5", "shards: [4-6, 7]": "shards: [4, 6-7]"}},
		{"a block list loses its last item, the comment before it stays",
			map[int]string{3: "gw-b"},
			map[string]string{"      - \"3\"\n": "", "shards: [4-6, 7]": "shards: [3-7]"}},
		{"a block list emptied: its comments stay, the key says []",
			map[int]string{0: "gw-c", 1: "gw-c", 2: "gw-c", 3: "gw-c"},
			map[string]string{
				"    shards:\n      - 0-2      # the old ones\n      # shard 3 came later\n      - \"3\"\n": "    shards: []\n      # the old ones\n      # shard 3 came later\n",
				"shards: []   # standby": "shards: [0-3]   # standby",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "deploy.yaml")
			require.NoError(t, os.WriteFile(path, []byte(commented), 0o600))
			d, err := Load(path)
			require.NoError(t, err)
			for s, to := range tt.moves {
				require.NoError(t, d.Assign(s, to))
			}
			require.NoError(t, d.WriteShardLists(path))
			got, err := os.ReadFile(path)
			require.NoError(t, err)

			want := commented
			for old, repl := range tt.change {
				require.Contains(t, want, old)
				want = strings.Replace(want, old, repl, 1)
			}
			assert.Equal(t, want, string(got))
			assert.Equal(t, commentLines(commented), commentLines(string(got)), "every comment, in order")

			back, err := Load(path)
			require.NoError(t, err)
			for _, name := range d.GatewayNames() {
				assert.ElementsMatch(t, d.Gateways[name].Shards, back.Gateways[name].Shards, name)
			}
			st, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the file keeps its mode")
		})
	}
}

// The shipped example, moved as in docs/scale-out.md: two lines change, nothing else.
func TestWriteShardListsOnTheShippedExample(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("..", "..", "config", "scale-out", "deploy.yaml"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "deploy.yaml")
	require.NoError(t, os.WriteFile(path, orig, 0o644))
	d, err := Load(path)
	require.NoError(t, err)
	require.NoError(t, d.Assign(10, "gw-d"))
	require.NoError(t, d.WriteShardLists(path))
	got, err := os.ReadFile(path)
	require.NoError(t, err)

	before, after := strings.Split(string(orig), "\n"), strings.Split(string(got), "\n")
	require.Len(t, after, len(before))
	var changed []string
	for i := range before {
		if before[i] != after[i] {
			changed = append(changed, strings.TrimSpace(before[i])+" -> "+strings.TrimSpace(after[i]))
		}
	}
	assert.Equal(t, []string{"shards: [0-10] -> shards: [0-9]", "shards: [] -> shards: [10]"}, changed)
}

func TestEditShardListsRefusesWhatItCannotEdit(t *testing.T) {
	d, err := Load(filepath.Join("testdata", "deploy.yaml"))
	require.NoError(t, err)
	require.NoError(t, d.Assign(7, "gw-c"))
	raw, err := os.ReadFile(filepath.Join("testdata", "deploy.yaml"))
	require.NoError(t, err)

	multiline := strings.Replace(string(raw), "{shards: [4-6, 7],", "{shards: [4-6, # later\n 7],", 1)
	_, err = d.EditShardLists([]byte(multiline))
	assert.ErrorContains(t, err, "gateways::gw-b::shards (line 8): a comment inside a [...] list")

	noList := strings.Replace(string(raw), "gw-c: {shards: [], ", "gw-c: {", 1)
	_, err = d.EditShardLists([]byte(noList))
	assert.ErrorContains(t, err, "gateways::gw-c: write its shards as a list (`shards: []` for none)")
}
