"""Mail for alerts: addresses, ISO-2022-JP for carrier phones, fast per-recipient rendering, DKIM, DSN."""
