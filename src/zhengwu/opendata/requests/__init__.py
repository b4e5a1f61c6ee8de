"""Data requests from the public (数据需求): asked by anyone signed in, answered by the publisher."""
