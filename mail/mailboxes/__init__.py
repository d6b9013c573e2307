"""The provider's IMAP mailboxes: their configuration (``services``; the password encrypted at
rest, ``mail.secrets``), the API (``api``) and the console page (``console``) for provider admins.
Polling them is ``mail.imap``."""
