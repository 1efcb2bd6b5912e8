package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode"

	"gopkg.in/ini.v1"
)

// File is a parsed settings file.
type File struct {
	// Path is the file's name as given; messages use it.
	Path string
	// Entries are its key = value lines, in file order.
	Entries []Entry
}

// Entry is one key = value line of a File.
type Entry struct {
	// Key is the key as written; Name is the setting it names: Key in lower
	// case with '_' as '-'.
	Key, Name string
	// Value is the value as ini.v1 reads it.
	Value string
	// Line is the 1-based line of the key.
	Line int
}

// Lookup returns the entry for a setting name, if the file has one.
func (f *File) Lookup(name string) (Entry, bool) {
	if f == nil {
		return Entry{}, false
	}
	for _, e := range f.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// iniOptions keep values literal apart from surrounding quotes: '#' or ';'
// in a token or a path is data, and a trailing '\' does not join lines.
// Only '=' separates key and value, so that "listen: :61920" is an error
// rather than a key named "listen".
var iniOptions = ini.LoadOptions{
	InsensitiveKeys:     true,
	IgnoreInlineComment: true,
	IgnoreContinuation:  true,
	KeyValueDelimiters:  "=",
}

// Load reads and parses the settings file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read settings file: %w", err) // the os error names the file
	}
	return Parse(path, data)
}

// Parse parses the content of a settings file; path is used in messages.
// All problems found are returned joined, each an *Error.
func Parse(path string, data []byte) (*File, error) {
	lines, errs := scan(path, data)
	if len(errs) > 0 {
		// ini.v1 would stop at the first of these, without a line number.
		return nil, errors.Join(errs...)
	}
	f, err := ini.LoadSources(iniOptions, data)
	if err != nil {
		// scan accepts only what ini.v1 accepts, so this is a gap in scan.
		// ini.v1's message quotes the line, which may hold a secret.
		return nil, &Error{File: path, Kind: ErrSyntax, Cause: err,
			Msg: "not a valid INI file", Fix: "keep to key = value lines and # comments"}
	}
	sec := f.Section(ini.DefaultSection)
	file := &File{Path: path}
	seen := make(map[string]int) // setting name -> line
	for _, l := range lines {
		if l.section != "" {
			errs = append(errs, &Error{File: path, Line: l.n, Kind: ErrSection,
				Msg: fmt.Sprintf("unexpected section [%s]", l.section),
				Fix: "remove the header line; settings go at the top of the file, outside any section"})
			continue
		}
		if l.inSection {
			continue // reported with its header
		}
		name := Name(l.key)
		if first, dup := seen[name]; dup {
			errs = append(errs, &Error{File: path, Line: l.n, Key: l.key, Kind: ErrDuplicate,
				Msg: fmt.Sprintf("set again (first on line %d)", first), Fix: "keep one of the two lines"})
			continue
		}
		seen[name] = l.n
		k, err := sec.GetKey(strings.ToLower(l.key))
		if err != nil {
			errs = append(errs, &Error{File: path, Line: l.n, Key: l.key, Kind: ErrSyntax, Cause: err,
				Msg: "cannot read this key", Fix: "write it as key = value"})
			continue
		}
		file.Entries = append(file.Entries, Entry{Key: l.key, Name: name, Value: k.Value(), Line: l.n})
	}
	// A key that ini.v1 found and scan did not would be silently ignored.
	for _, k := range sec.Keys() {
		if !slices.ContainsFunc(lines, func(l line) bool { return !l.inSection && strings.ToLower(l.key) == k.Name() }) {
			errs = append(errs, &Error{File: path, Key: k.Name(), Kind: ErrSyntax,
				Msg: "key found on no line", Fix: "write it as key = value on a line of its own"})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return file, nil
}

// Name is the setting a key names: the key in lower case with '_' as '-'.
func Name(key string) string {
	return strings.ReplaceAll(strings.ToLower(key), "_", "-")
}

// line is a header or key line found by scan.
type line struct {
	n int
	// section is the name of a [section] header other than DEFAULT.
	section string
	// key is the key of a key = value line; inSection says it follows a
	// header other than [DEFAULT].
	key       string
	inSection bool
}

// scan finds the header and key lines of data the way ini.v1 parses it
// with iniOptions, and reports the lines ini.v1 would reject.
func scan(path string, data []byte) ([]line, []error) {
	text := string(data)
	for { // ini.v1 skips any number of byte order marks
		if t, ok := strings.CutPrefix(text, "\uFEFF"); ok {
			text = t
		} else if len(text) >= 2 && (text[:2] == "\xfe\xff" || text[:2] == "\xff\xfe") {
			text = text[2:]
		} else {
			break
		}
	}
	rows := strings.Split(text, "\n")
	var (
		lines     []line
		errs      []error
		inSection bool
	)
	bad := func(n int, msg, fix string) {
		errs = append(errs, &Error{File: path, Line: n, Kind: ErrSyntax, Msg: msg, Fix: fix})
	}
	for i := 0; i < len(rows); i++ {
		n := i + 1
		l := strings.TrimSpace(rows[i])
		switch {
		case l == "", l[0] == '#', l[0] == ';':
			continue
		case l[0] == '[':
			end := strings.LastIndexByte(l, ']')
			if end < 0 {
				bad(n, "unclosed section header", "end it with ']', or start a comment with '#'")
				continue
			}
			name := l[1:end]
			switch name {
			case "":
				bad(n, "empty section header", "remove the line")
			case ini.DefaultSection:
				inSection = false
			default:
				inSection = true
				lines = append(lines, line{n: n, section: name})
			}
			continue
		}
		// ini.v1 sees the line trimmed on the left only and with its
		// newline, which decides some of its quote checks below.
		raw := strings.TrimLeftFunc(rows[i], unicode.IsSpace)
		if i < len(rows)-1 {
			raw += "\n"
		}
		key, rest, err := splitKey(raw)
		if err != nil {
			bad(n, err.Error(), "write key = value, or start a comment with '#'")
			continue
		}
		if key == "-" {
			// ini.v1 would number it as an automatic key "#1".
			bad(n, `"-" is not a key`, "write key = value")
			continue
		}
		lines = append(lines, line{n: n, key: key, inSection: inSection})
		// A value opened with """ or ` runs to the line with the
		// closing quote.
		v := strings.TrimLeftFunc(rest, unicode.IsSpace)
		var quote string
		switch {
		case len(v) > 3 && v[:3] == `"""`:
			quote = `"""`
		case v != "" && v[0] == '`':
			quote = "`"
		}
		if quote == "" || strings.Contains(v[len(quote):], quote) {
			continue
		}
		i++
		for i < len(rows) && !strings.Contains(rows[i], quote) {
			i++
		}
		if i == len(rows) {
			bad(n, fmt.Sprintf("value opened with %s is never closed", quote), "close it on the same line, or remove the quote")
		}
	}
	return lines, errs
}

// splitKey splits a trimmed, non-comment line into its key and the text
// after the '=', as ini.v1 does, quoted keys included.
func splitKey(l string) (key, rest string, err error) {
	var quote string
	switch {
	case len(l) > 6 && l[:3] == `"""`:
		quote = `"""`
	case l[0] == '"':
		quote = `"`
	case l[0] == '`':
		quote = "`"
	}
	if quote != "" {
		end := strings.Index(l[len(quote):], quote)
		if end < 0 {
			return "", "", errors.New("key quote is never closed")
		}
		end += len(quote)
		eq := strings.IndexByte(l[end+len(quote):], '=')
		if eq < 0 {
			return "", "", errors.New("no '=' after the key")
		}
		key = strings.TrimSpace(l[len(quote):end])
		rest = l[end+len(quote)+eq+1:]
	} else {
		eq := strings.IndexByte(l, '=')
		switch {
		case eq < 0:
			return "", "", errors.New("neither a [section] header nor key = value")
		case eq == 0:
			return "", "", errors.New("no key before '='")
		}
		key, rest = strings.TrimSpace(l[:eq]), l[eq+1:]
	}
	if key == "" {
		return "", "", errors.New("empty key")
	}
	return key, rest, nil
}
