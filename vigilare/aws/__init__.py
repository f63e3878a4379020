"""AWS access for scans: one assumed-role session per account scan, bounded, retried, cached clients."""
