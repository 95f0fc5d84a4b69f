"""sparse-routes (hiddenstruct's extension): three routes to sparse structure at equal density."""
