"""The README's generated sections: the configuration reference and the benchmark table."""
