package submit

import (
	"context"
	"errors"
	"io"

	"mailroom/mail"
)

// Submit is Dial, one Send and Close: the common case of one message per
// connection. When Dial fails, every recipient carries the dial error's
// outcome and reply, so the caller can treat both failures alike.
func Submit(ctx context.Context, opt Options, env mail.Envelope, body io.Reader) (mail.SubmitResult, error) {
	s, err := Dial(ctx, opt)
	if err != nil {
		res := mail.SubmitResult{Rcpts: make([]mail.RcptResult, len(env.Recipients))}
		o, r := mail.OutcomeOf(err), mail.Reply{Text: err.Error()}
		var me *mail.Error
		if errors.As(err, &me) {
			r = me.Reply
		}
		for i, a := range env.Recipients {
			res.Rcpts[i] = mail.RcptResult{Address: a, Outcome: o, Reply: r}
		}
		return res, err
	}
	defer s.Close()
	return s.Send(ctx, env, body)
}
