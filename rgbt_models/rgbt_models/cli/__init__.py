"""Console scripts of rgbt_models: rgbt-train, -eval, -export, -adapt, -calibrate, -import, -labels."""
