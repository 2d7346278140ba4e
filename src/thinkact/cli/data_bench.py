"""`thinkact data generate` and `thinkact data stats`: the bundled benchmark."""
