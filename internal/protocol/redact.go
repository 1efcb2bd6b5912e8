package protocol

import "fmt"

// Error messages of this package go back to the peer in an error frame and
// into the server's log, so they never quote a value that may be secret.
// Passwords are the obvious case, but not the only one: values cannot
// contain commas, so a password with a comma in it arrives as a password
// and one or more further fields, each holding a piece of it. Any field
// after the first may therefore be part of a password, and messages about
// fields name the field by position and key and give only its length.
// Names (user=, channel=) are the exception: they identify a channel and
// are logged with every connection anyway. The command is quoted too: it
// comes before any value.

// describeField says which field f is, without its content: "field 3 (12
// bytes)".
func describeField(i int, f string) string {
	return fmt.Sprintf("field %d (%d bytes)", i+1, len(f))
}

// describeValue says which key has a bad value, without the value:
// "delay= (3 bytes)".
func describeValue(key, v string) string {
	return fmt.Sprintf("%s= (%d bytes)", key, len(v))
}
