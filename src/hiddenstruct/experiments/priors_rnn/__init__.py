"""priors-rnn (paper §4.3): random graphs as structural priors of recurrent networks."""
