"""`thinkact data convert` and `thinkact data validate`: other formats in and out."""
