"""Front nodes (前置机): publish a department's own tables and views as exchange services, no code needed."""
