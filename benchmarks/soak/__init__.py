"""The soak of `make soak` / `make soak-long`, in parts: the fault schedule (faults), the machine's
own accounting (machine), the run loop (run), the per-minute reports (report) and the verdicts
(judge). `python benchmarks/soak_node.py` runs it; its docstring says what the soak does."""
