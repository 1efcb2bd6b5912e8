package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeCommands returns every fstream command line of README.md: the
// lines of its code blocks and its inline code spans, split at pipes and
// command substitutions, each as the arguments after "fstream" (or
// bin/fstream, fstream.exe), with environment assignments, redirections and
// comments dropped. piped reports whether the command reads a pipe.
func readmeCommands(t *testing.T) (cmds [][]string, piped []bool) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	fence := false
	for _, l := range strings.Split(string(doc), "\n") {
		switch {
		case strings.HasPrefix(strings.TrimSpace(l), "```"):
			fence = !fence
		case fence || strings.HasPrefix(l, "    "):
			lines = append(lines, strings.TrimSpace(l))
		default:
			for _, m := range regexp.MustCompile("`((?:bin/)?fstream(?:\\.exe)? [^`]+)`").FindAllStringSubmatch(l, -1) {
				lines = append(lines, m[1])
			}
		}
	}
	// Join continued lines.
	var joined []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		for strings.HasSuffix(l, "\\") && i+1 < len(lines) {
			i++
			l = strings.TrimSuffix(l, "\\") + " " + lines[i]
		}
		joined = append(joined, l)
	}
	for _, l := range joined {
		if c, _, ok := strings.Cut(l, " #"); ok {
			l = c // a comment
		}
		l = strings.NewReplacer("$(", "|", ")", "|", "&&", "|", ";", "|").Replace(l)
		for i, seg := range strings.Split(l, "|") {
			words := shellWords(strings.TrimSpace(seg))
			for len(words) > 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(words[0]) {
				words = words[1:] // FSTREAM_USER_PASSWORD=123 fstream ...
			}
			if len(words) < 2 || !regexp.MustCompile(`^(\./)?(bin/)?fstream(\.exe)?$`).MatchString(words[0]) {
				continue
			}
			var args []string
			for _, w := range words[1:] {
				if w == ">" || w == "<" || w == ">>" || strings.HasPrefix(w, ">") {
					break
				}
				if strings.HasPrefix(w, "[") || w == "..." {
					continue // a synopsis: [flags], [PAYLOAD]
				}
				args = append(args, w)
			}
			cmds = append(cmds, args)
			piped = append(piped, i > 0)
		}
	}
	return cmds, piped
}

// shellWords splits a command line into words, honouring quotes.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// runsOffline reports whether a README command can run as it is here, with
// no server: it then must succeed. Others are run with --help, which still
// parses their flags, so a flag the binary does not have fails.
func runsOffline(args []string) bool {
	for _, a := range args {
		if regexp.MustCompile(`^[A-Z][A-Z_]*$`).MatchString(a) {
			return false // a placeholder: HOST, NAME, SHELL
		}
	}
	switch args[0] {
	case "version", "--version", "help", "completion":
		return true
	case "user":
		return len(args) > 1 && (args[1] == "list" || args[1] == "ls" || slicesContains(args, "--password-stdin"))
	}
	return false
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestREADMECommands runs every fstream command line of README.md, so that
// the README and the binary cannot drift apart: the ones that can run
// offline (help, version, completion, user add --password-stdin, user
// list) for real, the others with --help, which fails on a flag or a
// command the binary does not have.
func TestREADMECommands(t *testing.T) {
	cmds, piped := readmeCommands(t)
	if len(cmds) < 25 {
		t.Fatalf("found only %d fstream command lines in README.md", len(cmds))
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "users"), 0o700); err != nil {
		t.Fatal(err)
	}
	offline := 0
	for i, args := range cmds {
		real := runsOffline(args)
		run := args
		if !real {
			run = append(append([]string(nil), args...), "--help")
		} else {
			offline++
		}
		cmd := exec.Command(fstreamBin, run...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
		if piped[i] {
			cmd.Stdin = strings.NewReader("secret-password\n")
		}
		var out, errs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errs
		err := cmd.Run()
		switch {
		case err != nil:
			t.Errorf("fstream %s: %v\nstdout %q\nstderr %q", strings.Join(run, " "), err, out.String(), errs.String())
		case !real && !strings.Contains(out.String(), "Usage:"):
			t.Errorf("fstream %s: no usage in %q", strings.Join(run, " "), out.String())
		}
	}
	if offline < 5 {
		t.Errorf("only %d README commands ran for real", offline)
	}
	if _, err := os.Stat(filepath.Join(dir, "users", "fier.ini")); err != nil {
		t.Errorf("README's user add --password-stdin did not add fier: %v", err)
	}
}

// TestREADMEFlags: every --flag README.md names is one the binary has.
func TestREADMEFlags(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var help strings.Builder
	for _, c := range [][]string{{"serve"}, {"watch"}, {"broadcast"}, {"token"}, {"bench"}, {"user", "add"}, {"user"}, {"completion"}} {
		out, errs, code := fstream(t, nil, append(c, "--help")...)
		if code != 0 {
			t.Fatalf("%v --help: %d %s", c, code, errs)
		}
		help.Write(out)
	}
	flags := regexp.MustCompile("`(--[a-z][a-z-]*)").FindAllStringSubmatch(string(doc), -1)
	if len(flags) < 40 {
		t.Fatalf("found only %d flags in README.md", len(flags))
	}
	for _, f := range flags {
		if !strings.Contains(help.String(), f[1]+" ") {
			t.Errorf("README.md names %s, which no command has", f[1])
		}
	}
}

// TestREADMERefusalLines: the refusal lines README.md quotes are the ones
// the binary prints, with the server at 127.0.0.1:61920 and its HTTP side
// at 127.0.0.1:61921.
func TestREADMERefusalLines(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, "--http", "127.0.0.1:0")
	web := httpAddr(t, srv)
	normal := strings.NewReplacer(srv.addr, "127.0.0.1:61920", web, "127.0.0.1:61921")
	check := func(errs string) {
		t.Helper()
		line := normal.Replace(strings.TrimSpace(errs))
		if !strings.Contains(string(doc), "    "+line+"\n") {
			t.Errorf("README.md does not quote the line the binary printed:\n%s", line)
		}
	}
	pw := func(p string) []string { return []string{"--user", "fier", "--user-password", p, "--channel", "cam"} }
	_, errs, _ := fstream(t, nil, "watch", srv.addr, "--user", "fier", "--channel", "cam")
	check(errs)
	_, errs, _ = fstream(t, strings.NewReader("x"), append([]string{"broadcast", srv.addr}, pw("wrong")...)...)
	check(errs)
	_, errs, _ = fstream(t, strings.NewReader("x"), "broadcast", srv.addr, "--user", "fier", "--token", "made-up", "--channel", "cam")
	check(errs)
	_, errs, _ = fstream(t, strings.NewReader("x"), "broadcast", srv.addr, "--user", "fier", "--channel", "cam")
	check(errs)
	_, errs, _ = fstream(t, nil, "watch", web, "--user", "fier", "--channel", "cam")
	check(errs)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	first := make(chan string, 1)
	go func() {
		_, errs, _ := fstream(t, r, append([]string{"broadcast", srv.addr, "--channel-password", "456"}, pw("123")...)...)
		first <- errs
	}()
	waitLive(t, srv.addr, "fier", "cam")
	_, errs, _ = fstream(t, nil, "watch", srv.addr, "--user", "fier", "--channel", "cam")
	check(errs)
	_, errs, _ = fstream(t, nil, "watch", srv.addr, "--user", "fier", "--channel", "cam", "--channel-password", "guess")
	check(errs)
	fstream(t, strings.NewReader("second"), append([]string{"broadcast", srv.addr}, pw("123")...)...)
	check(<-first)
}
