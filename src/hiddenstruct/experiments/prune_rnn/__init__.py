"""prune-rnn (paper §4.2): pruning the input-to-hidden and hidden-to-hidden weights of recurrent networks."""
