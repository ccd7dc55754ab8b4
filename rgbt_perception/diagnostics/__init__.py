"""What the node reports about itself on /diagnostics and in its log: per-frame counts and stage
timings (frame_stats), the status rule (node_status), resident memory and the heap trimmer
(memory), and warnings throttled per reason (log_throttle)."""
