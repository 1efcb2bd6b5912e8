package auth

import "net/url"

// redactedUserinfo replaces the user name and password of a URL in logs
// and errors.
const redactedUserinfo = "xxxxx"

// RedactURL returns raw with its userinfo (user name and password, either
// of which may be a secret such as an API key) replaced, for logs and
// messages. Anything that does not parse as a URL with userinfo is
// returned as it is.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User(redactedUserinfo)
	return u.String()
}
