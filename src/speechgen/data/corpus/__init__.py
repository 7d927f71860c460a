"""Our offline spoken-digit corpus, synthesised with the installed Debian speech engines."""
