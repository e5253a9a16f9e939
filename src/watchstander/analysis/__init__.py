"""Analysis: metric specs, measurements and the judges that turn samples into verdicts.

Pure: providers observe (Sample), this package judges (Measurement) and sums verdicts
under failure, inconclusive and consecutive-error limits (Argo Rollouts semantics).
"""
