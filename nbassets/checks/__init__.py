"""Is the data right: rules, check cells and the one check runner."""
