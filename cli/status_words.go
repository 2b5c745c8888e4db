package cli

import "mailroom/tracking"

func trackingStatus(s string) tracking.Status { return tracking.Status(s) }
