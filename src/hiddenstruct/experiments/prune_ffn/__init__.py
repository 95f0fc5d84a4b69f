"""prune-ffn (paper §4.1): pruning feed-forward networks by five methods."""
