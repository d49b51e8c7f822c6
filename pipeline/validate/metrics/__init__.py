"""Figures comparing a predicted mask with a reference mask, and figures over cases.

One module per family: :mod:`.overlap` (Dice, Jaccard, precision, recall, FPR, FNR),
:mod:`.surface` (HD, HD95, MSD, NSD), :mod:`.volume` (ratio and errors), :mod:`.topology`
(clDice, Betti numbers), :mod:`.lesions` (lesion-level detection), :mod:`.agreement`
(ICC, Bland-Altman), :mod:`.risk` (risk-coverage curve, AURC) and :mod:`.bootstrap`
(percentile bootstrap confidence intervals). The empty-mask rules are stated in each
function and in ``docs/validation.md``.
"""
