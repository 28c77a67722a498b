"""The kernel every domain package builds on: errors, the clock, the move discipline,
paging, audit lines and jobs, and `Actor` with the one visibility rule. Imports nothing above it."""
