"""`make mutation`: cosmic-ray runs over the modules whose mistakes lose or corrupt data or break a promise."""
