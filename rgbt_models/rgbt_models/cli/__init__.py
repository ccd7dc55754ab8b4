"""Console scripts: rgbt-train, rgbt-eval, rgbt-export."""
