"""nas (paper §4.4): architecture search with structural performance prediction."""
