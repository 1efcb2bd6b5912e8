package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes s as indented JSON, with every run's full result.
func (s *SuiteResult) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("write suite result: %w", err)
	}
	return nil
}

// maxCell bounds an error shown in a table cell, which sets the width of
// its column; the notes below the table have it whole.
const maxCell = 48

// WriteTable writes s as a header, one table with a row per metric, the
// notes, and a tally.
func (s *SuiteResult) WriteTable(w io.Writer) error {
	m := s.Machine
	var b strings.Builder
	fmt.Fprintf(&b, "fstream performance suite   %s\n", s.Started.Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(&b, "machine  %s, %s; %s; %s\n", m.CPU, plural(m.Cores, "core"), m.Kernel, m.Go)
	fmt.Fprintf(&b, "runs     %v measured windows unless a note says otherwise, each run against its own child server;\n"+
		"         baselines are measured in this suite run; with --strict a FAIL fails the suite\n\n",
		time.Duration(s.DurationSeconds*float64(time.Second)))

	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tscenario\tmeasured\tvalue\tbaseline\tratio\ttarget\tresult")
	var notes []string
	note := func(id int, text string) {
		lines := strings.Split(strings.TrimSpace(text), "\n")
		notes = append(notes, fmt.Sprintf("%2d  %s", id, strings.Join(lines, "\n      ")))
	}
	for _, sc := range s.Scenarios {
		first := true
		row := func(cells ...string) {
			id, title := "", ""
			if first {
				id, title, first = strconv.Itoa(sc.ID), sc.Title, false
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", id, title, strings.Join(cells, "\t"))
		}
		switch {
		case sc.Error != "":
			row(cut("error: "+oneLine(sc.Error), maxCell), "", "", "", "", "ERROR")
			note(sc.ID, "error: "+sc.Error)
		case sc.Skipped != "":
			row(sc.Skipped, "", "", "", "", "SKIP")
		}
		for _, mt := range sc.Metrics {
			base, ratio, target := "-", "-", "reported"
			if mt.BaselineText != "" {
				base = mt.BaselineText
			}
			if mt.Baseline > 0 && !mt.Missing {
				ratio = fmt.Sprintf("%.2f×", mt.Ratio)
			}
			if mt.Target != nil {
				target = mt.Target.Text
			}
			row(mt.Name, mt.Text, base, ratio, target, string(mt.Verdict))
		}
		if sc.Skipped == "" {
			for _, n := range sc.Notes {
				note(sc.ID, n)
			}
		}
	}
	_ = tw.Flush() // into a strings.Builder, which does not fail
	// Rows without a verdict would end in the padding of their cells.
	for line := range strings.Lines(table.String()) {
		b.WriteString(strings.TrimRight(line, " \n") + "\n")
	}

	if len(notes) > 0 {
		b.WriteString("\nnotes\n")
		for _, n := range notes {
			b.WriteString(n + "\n")
		}
	}
	pass, fail, errs, skipped := s.Tally()
	fmt.Fprintf(&b, "\ntargets  %d PASS, %d FAIL; %s failed to run, %d skipped; %.0f s in all",
		pass, fail, plural(errs, "scenario"), skipped, s.Seconds)
	if s.Interrupted {
		b.WriteString(" (interrupted)")
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write suite result: %w", err)
	}
	return nil
}

// oneLine joins the lines of s with "; ".
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}

// cut shortens s to n runes, marking the cut.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
