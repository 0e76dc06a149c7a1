package cdc

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/internal/testenv"
)

// kcatPath finds kcat (Debian package kcat; .ci/run installs it). Without
// it the test skips, unless CI is set.
func kcatPath(t *testing.T) string {
	p, err := exec.LookPath("kcat")
	if err == nil {
		return p
	}
	testenv.SkipUnlessCI(t, "kcat is not on PATH (Debian kcat; .ci/run installs it)")
	return ""
}

func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(kcatPath(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	timer := time.AfterFunc(30*time.Second, func() {
		if cmd.Process != nil {
			cmd.Process.Kill()
		}
	})
	defer timer.Stop()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// TestKcat: librdkafka's kcat produces JSON lines into the embedded broker
// of a running viewd, and sources read them; and kcat consumes what
// franz-go produced, so the broker works with librdkafka both ways.
func TestKcat(t *testing.T) {
	kcatPath(t)
	srv, c := startKafka(t)
	var lines []string
	for i := 1; i <= 20; i++ {
		lines = append(lines, fmt.Sprintf(`{"id":%d,"name":"user %d","tags":["a","b"],"score":%d.5}`, i, i, i))
	}
	kcat(t, strings.Join(lines, "\n")+"\n", "-P", "-b", srv.KafkaAddr, "-t", "kcat_lines")
	exec1(t, c, "CREATE SOURCE kl FROM KAFKA CONNECTION k (TOPIC 'kcat_lines') FORMAT JSON ENVELOPE NONE")
	eventually(t, c, 20*time.Second, "SELECT count(*), sum((data->>'id')::int), sum((data->>'score')::numeric) FROM kl", []string{"20|210|220.0"}) // a sum of x.5 numerics keeps scale 1
	eventually(t, c, 5*time.Second, "SELECT data->>'name', jsonb_array_length(data->'tags') FROM kl WHERE (data->>'id')::int = 7", []string{"user 7|2"})

	// More lines while the source runs.
	kcat(t, `{"id":21,"name":"late","tags":[],"score":0}`+"\n", "-P", "-b", srv.KafkaAddr, "-t", "kcat_lines")
	eventually(t, c, 20*time.Second, "SELECT count(*) FROM kl", []string{"21"})

	// Keyed lines (-K) into an upsert source with declared columns: the
	// last value per key wins, an empty value (-Z: NULL) deletes.
	kcat(t, "1|{\"id\":1,\"v\":\"one\"}\n2|{\"id\":2,\"v\":\"two\"}\n1|{\"id\":1,\"v\":\"uno\"}\n3|{\"id\":3,\"v\":\"three\"}\n3|\n",
		"-P", "-b", srv.KafkaAddr, "-t", "kcat_keyed", "-K", "|", "-Z")
	exec1(t, c, "CREATE SOURCE kk FROM KAFKA CONNECTION k (TOPIC 'kcat_keyed') KEY FORMAT TEXT VALUE FORMAT JSON ENVELOPE UPSERT")
	eventually(t, c, 20*time.Second, "SELECT count(*) FROM kk", []string{"2"})
	t.Logf("upsert source: %q", rows(t, c, "SELECT * FROM kk"))

	// kcat reads what franz-go wrote.
	cl := producer(t, srv.KafkaAddr)
	produceSync(t, cl, kv("to_kcat", "k1", `{"x":1}`), kv("to_kcat", "k2", `{"x":2}`))
	out := kcat(t, "", "-C", "-b", srv.KafkaAddr, "-t", "to_kcat", "-o", "beginning", "-e", "-f", "%k=%s\n")
	if strings.TrimSpace(out) != "k1={\"x\":1}\nk2={\"x\":2}" {
		t.Errorf("kcat -C read %q", out)
	}
	for _, name := range []string{"kl", "kk"} {
		if s := statuses(t, c)[name]; s.status != "running" {
			t.Errorf("status of %s: %+v", name, s)
		}
	}
}
