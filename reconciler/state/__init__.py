"""State backends (local file, PostgreSQL) behind one contract, and their locks."""
