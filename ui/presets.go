package ui

import "mailroom/mail"

// DefaultPresets are the server settings published by well-known
// providers (checked against their help pages). Most of them require an
// app password when two-factor sign-in is on; Amazon SES needs SMTP
// credentials created in the SES console and has no IMAP.
func DefaultPresets() []Preset {
	return []Preset{
		{Name: "Gmail", SMTPHost: "smtp.gmail.com", SMTPPort: 465, SMTPSecurity: mail.ImplicitTLS,
			IMAPHost: "imap.gmail.com", IMAPPort: 993, IMAPSecurity: mail.ImplicitTLS,
			Note: "Use an app password (Google Account → Security → App passwords)."},
		{Name: "Microsoft 365 (work or school)", SMTPHost: "smtp.office365.com", SMTPPort: 587, SMTPSecurity: mail.StartTLS,
			IMAPHost: "outlook.office365.com", IMAPPort: 993, IMAPSecurity: mail.ImplicitTLS,
			Note: "An administrator must allow SMTP AUTH for the mailbox; tenants that allow only OAuth will refuse the password."},
		{Name: "Outlook.com / Hotmail", SMTPHost: "smtp-mail.outlook.com", SMTPPort: 587, SMTPSecurity: mail.StartTLS,
			IMAPHost: "outlook.office365.com", IMAPPort: 993, IMAPSecurity: mail.ImplicitTLS,
			Note: "Microsoft is retiring password sign-in for Outlook.com; an app password works only while it lasts."},
		{Name: "Yahoo Mail", SMTPHost: "smtp.mail.yahoo.com", SMTPPort: 465, SMTPSecurity: mail.ImplicitTLS,
			IMAPHost: "imap.mail.yahoo.com", IMAPPort: 993, IMAPSecurity: mail.ImplicitTLS,
			Note: "Use an app password generated in Yahoo account security."},
		{Name: "iCloud Mail", SMTPHost: "smtp.mail.me.com", SMTPPort: 587, SMTPSecurity: mail.StartTLS,
			IMAPHost: "imap.mail.me.com", IMAPPort: 993, IMAPSecurity: mail.ImplicitTLS,
			Note: "Use an app-specific password; the user name is the iCloud address."},
		{Name: "Fastmail", SMTPHost: "smtp.fastmail.com", SMTPPort: 465, SMTPSecurity: mail.ImplicitTLS,
			IMAPHost: "imap.fastmail.com", IMAPPort: 993, IMAPSecurity: mail.ImplicitTLS,
			Note: "Use an app password (Settings → Privacy & Security)."},
		sesPreset("Amazon SES (US East, N. Virginia)", "us-east-1"),
		sesPreset("Amazon SES (US East, Ohio)", "us-east-2"),
		sesPreset("Amazon SES (US West, Oregon)", "us-west-2"),
		sesPreset("Amazon SES (EU, Ireland)", "eu-west-1"),
		sesPreset("Amazon SES (EU, Frankfurt)", "eu-central-1"),
		sesPreset("Amazon SES (Asia Pacific, Sydney)", "ap-southeast-2"),
	}
}

// sesPreset is an Amazon SES SMTP endpoint. SES also listens on 587
// (STARTTLS); implicit TLS on 465 is chosen because it never talks in
// clear, even for the greeting.
func sesPreset(name, region string) Preset {
	return Preset{Name: name, SMTPHost: "email-smtp." + region + ".amazonaws.com", SMTPPort: 465,
		SMTPSecurity: mail.ImplicitTLS,
		Note:         "Use SES SMTP credentials (not your AWS keys). SES has no IMAP: bounces arrive at the sender's own mailbox; add its IMAP server to read them."}
}
