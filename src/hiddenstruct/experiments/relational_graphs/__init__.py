"""relational-graphs (graph2nn's study): relational graphs as layer masks at equal cost."""
