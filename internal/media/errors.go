package media

import "errors"

// ErrInvalidConfig is returned by TrackerConfig.Validate for a field that
// cannot be used.
var ErrInvalidConfig = errors.New("media: invalid tracker config")
