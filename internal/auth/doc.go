// Package auth decides who may broadcast.
//
// Only broadcasters authenticate with a user password: a watcher names the
// channel's owner (user=) and proves nothing but the channel password, which
// the server checks against the live channel. The server calls an
// Authenticator once per broadcast handshake and refuses the peer with one
// generic "unauthorized" whatever the reason; the detail goes to the
// server's log.
//
// # Errors
//
// Authenticate returns nil to allow, an error wrapping ErrDenied when the
// credentials are wrong (ErrUnknownUser, ErrWrongPassword, ErrNoPassword),
// and any other error when it could not decide, such as an unreadable or
// corrupt user file. The server refuses in both cases but logs the second
// kind as its own failure, so an operator sees a broken file at once.
//
// # The users folder
//
// Dir reads a folder with one INI file per user, NAME.ini:
//
//	[DEFAULT]
//	# a bcrypt hash, as printed by HashPassword:
//	password_hash = $2a$10$...
//	# or, less safely, the password itself:
//	# password = secret
//
// Keys may also come before any section header. password_hash wins when
// both are present. The file is read at every call, so adding, changing or
// removing a user takes effect without a restart. User names are checked
// with protocol.ValidateName before any path is built from them.
//
// A value is everything after the '=' with surrounding blanks trimmed, taken
// literally: '#', ';', quotes and a trailing '\' are part of the password
// (as with Python's configparser), except that a value starting with a
// backquote or """ is read as a quoted string. Key names are
// case-insensitive.
//
// # Timing
//
// To keep response time from telling which user names exist, or how their
// passwords are stored, every decision about a well-formed name costs the
// bcrypt work of one comparison at bcrypt.DefaultCost: a user's
// password_hash is compared and, when its cost is lower (htpasswd -nB makes
// cost 5), padded with comparisons against dummy hashes at the costs in
// between, which add exactly the missing work since work doubles with each
// cost step; every other decision (unknown user, plaintext password, no
// password, a file that cannot be read or parsed) compares against a dummy
// hash at DefaultCost. Dummies are made once per process. A hash above
// DefaultCost is not matched: such a user answers more slowly than an
// unknown one. The price is a few tens of milliseconds of CPU per broadcast
// handshake, which the server's connection limits and failure throttle
// bound. Plaintext passwords are compared as SHA-256 digests with
// crypto/subtle.ConstantTimeCompare, so neither their content nor their
// length shows in the timing. List reports each hash's cost, so that the
// server can warn about hashes below WeakCost.
//
// A one-time token is checked against the users folder too when it is
// redeemed (UserChecker): a user removed after the token was issued cannot
// use it.
//
// # Managing users
//
// AddUser, SetPassword, Delete and List edit the same folder for the
// "fstream user" command: files are written to a temporary file in the
// folder, read back as Dir would read them, and renamed into place with mode
// 0600, so a server reading the folder never sees half a file.
//
// # One-time tokens
//
// Tokens issues a token for an authenticated user that is good for one
// broadcast until it expires: one live token per user, stored only as a
// SHA-256 digest, compared in constant time. A wrong guess does not burn the
// real token.
//
// # An HTTP service
//
// HTTP asks an operator's service instead of a folder: it POSTs the attempt
// (action, user, password, channel and remote address, which the server puts
// in the context with WithAttempt) as JSON and allows on 2xx. Answers are
// cached briefly under an HMAC of the whole attempt, never the password in
// clear; failures of the service itself (ErrHTTPAuth) are never cached.
package auth
