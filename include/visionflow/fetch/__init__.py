"""HTTP fetching: address guard, rate limits, and a retrying, size-bounded fetcher."""
