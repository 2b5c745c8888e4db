package compose_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"mailroom/mail"
	"mailroom/mail/compose"
)

func ExampleBuild() {
	d := compose.Draft{
		From:    mail.Address{Name: "Alice", Address: "alice@example.com"},
		To:      []mail.Address{{Name: "Bob", Address: "bob@example.org"}},
		Bcc:     []mail.Address{{Address: "archive@example.com"}}, // envelope only
		Subject: "Grüße",
		Text:    "Hello **Bob**!",
		Format:  compose.FormatMarkdown,
		// Fixed at enqueue; normally compose.NewMessageID("example.com").
		Date:      time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC),
		MessageID: "<x7dq2lz@example.com>",
	}
	if fes := compose.Validate(d); fes != nil {
		fmt.Println(fes)
		return
	}
	b, err := compose.Build(d, compose.CopyOptions{
		Rand: rand.NewChaCha8([32]byte{}), // fixed boundaries, for this example only
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(strings.ReplaceAll(string(b), "\r\n", "\n"))
	// Output:
	// Date: Mon, 02 Mar 2026 09:30:00 +0000
	// Message-Id: <x7dq2lz@example.com>
	// From: "Alice" <alice@example.com>
	// To: "Bob" <bob@example.org>
	// Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=
	// Mime-Version: 1.0
	// Content-Type: multipart/alternative;
	//  boundary="=_mr_d9877ece6d368aac1a6f419ec627c76b"
	//
	// --=_mr_d9877ece6d368aac1a6f419ec627c76b
	// Content-Type: text/plain; charset=utf-8
	// Content-Transfer-Encoding: 7bit
	//
	// Hello **Bob**!
	//
	// --=_mr_d9877ece6d368aac1a6f419ec627c76b
	// Content-Type: text/html; charset=utf-8
	// Content-Transfer-Encoding: 7bit
	//
	// <!DOCTYPE html>
	// <html>
	// <head>
	// <meta http-equiv="Content-Type" content="text/html; charset=utf-8">
	// </head>
	// <body>
	// <p>Hello <strong>Bob</strong>!</p>
	// </body>
	// </html>
	//
	// --=_mr_d9877ece6d368aac1a6f419ec627c76b--
}

func ExamplePlan() {
	d := compose.Draft{
		To:  []mail.Address{{Address: "bob@example.org"}, {Address: "carol@example.org"}},
		Bcc: []mail.Address{{Address: "archive@example.com"}},
	}
	for _, personalized := range []bool{false, true} {
		fmt.Println("personalized:", personalized)
		for _, c := range compose.Plan(d, personalized) {
			fmt.Println(" copy to", c.Recipients)
		}
	}
	// Output:
	// personalized: false
	//  copy to [<bob@example.org> <carol@example.org> <archive@example.com>]
	// personalized: true
	//  copy to [<bob@example.org>]
	//  copy to [<carol@example.org>]
	//  copy to [<archive@example.com>]
}
