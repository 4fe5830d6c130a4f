"""The README's generated sections: the configuration reference, the benchmark table and the mutation scores."""
