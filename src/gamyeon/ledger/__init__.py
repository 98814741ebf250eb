"""The ledger: a hash-chained table of processing records (``chain``, ``store``), what a run records
(``run``), the questions asked of it afterwards (``records``), and ``gamyeon ledger`` (``cli``)."""
