// Package config fills a command's flags from a settings file and the
// environment, under the command line.
//
// # Layers
//
// Every flag of a pflag.FlagSet is a setting. Its value comes from the first
// of these that has one:
//
//  1. the command line (--max-lag 5s), as pflag parsed it;
//  2. the environment: the flag's name upper-cased with '-' as '_' after a
//     prefix, such as FSTREAM_MAX_LAG=5s (an empty variable counts as unset);
//  3. the settings file: max-lag = 5s;
//  4. the flag's default.
//
// Apply works over whatever flags the set holds, so a new flag can be set in
// the file and the environment without any code here. Only the winning value
// is parsed; the file's value for a flag given on the command line is not
// read. Flags listed in Layers.Fixed (such as --config itself) can only be
// given on the command line.
//
// # The file
//
// The file is INI as gopkg.in/ini.v1 reads it, kept simple: one key = value
// per line, keys before any [section] header (a [DEFAULT] header is
// accepted), comments on their own lines starting with '#' or ';'. Keys are
// the long flag names without "--"; case does not matter and '_' may stand
// for '-'. A value is the text after '=' with surrounding blanks and one pair
// of surrounding quotes removed; '#' and ';' inside a value are part of it.
//
// ini.v1 does not report line numbers, so Parse scans the lines itself to
// place each key (and the file's structural mistakes) on its line. Every
// problem is returned as an *Error naming the file and line (or the
// environment variable), the key, what is wrong and how to fix it; Parse and
// Apply report all the problems they find at once, joined.
package config
