package clients

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// psqlCommands are psql 15's describe commands: each sends psql's own
// catalog queries.
var psqlCommands = []string{
	`\d t07`, `\d v03`, `\d mv1`, `\d t05_name_idx`, `\d t07_pkey`, `\d+ t07`,
	`\dt`, `\dt+`, `\dv`, `\dm`, `\di`, `\ds`, `\dE`, `\d`,
	`\df`, `\df abs`, `\dn`, `\dT`, `\dD`, `\dC`, `\dc`, `\do`, `\dy`, `\dx`, `\dL`, `\db`, `\des`, `\dF`,
	`\dd`, `\sv v03`, `\dp`, `\du`, `\l`,
}

// testPsql runs every describe command on both servers and compares the
// output.
func testPsql(t *testing.T, ctx context.Context, srv servers) {
	psql := need(t, "psql", "postgresql-client")
	runAll := func(tg target) []call {
		var calls []call
		for _, cmd := range psqlCommands {
			start := time.Now()
			out, _ := exec.CommandContext(ctx, psql, "-X", "-P", "pager=off", "-h", tg.host, "-p", tg.port, "-U", "viewd", "-d", "viewd", "-c", cmd).CombinedOutput()
			calls = append(calls, call{name: cmd, result: strings.TrimSpace(string(out)), ms: float64(time.Since(start).Microseconds()) / 1000})
		}
		return calls
	}
	compare(t, "psql", `\d family (33 commands)`, runAll(srv.viewd), runAll(srv.pg))
}
