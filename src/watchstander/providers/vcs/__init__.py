"""Version control: commits of a repository, and `git bisect run` in a throwaway worktree."""
