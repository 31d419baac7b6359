"""Training shared by every model: the loop (trainer), tasks, data splits, inference, metrics, saved models, and
the workflow's training stages."""
