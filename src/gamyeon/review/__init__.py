"""``gamyeon review``: a person inspects and corrects an output before release, in a local web page.

Modules: ``files`` (what belongs to an output), ``sidecar`` (its regions), ``model`` and ``store``
(the versioned review file), ``decide`` (decisions applied to regions), ``frames`` (output frames
as pictures), ``render`` (the re-render from the original), ``reveal`` (one region under its mask,
with the key), ``records`` (the ledger), ``app`` and ``server`` (the web app), ``cli``.
"""
