"""Names of the routes to sparse structure (torch-free, so CLI parsers can list them)."""

#: Routes of :func:`hiddenstruct.sparse_training.train_route`, in comparison order.
ROUTES = ("pruning", "static_uniform", "static_erk", "l1", "set", "rigl", "sparse_momentum")
DYNAMIC_ROUTES = ("set", "rigl", "sparse_momentum")
