"""Rules the SIS applies: a refusal the district's configuration did not predict. The sink
derives their rows from the sync ledger (`pipeline.sink.refusals`, which owns their ids and
message templates); here they join the catalog's documentation and the quality report."""

from __future__ import annotations

from checks.catalog import SisRule
from pipeline.sink.refusals import (
    LINE_ITEM_REFUSED_BY_SIS,
    LINE_ITEM_REFUSED_MESSAGE,
    SIS_REJECTED,
    SIS_REJECTED_MESSAGE,
)

SIS_RULES: tuple[SisRule, ...] = (
    SisRule(
        id=SIS_REJECTED, entities=("line_item", "result"),
        summary="the SIS refused the line item or result we sent (a 4xx answer)",
        message=SIS_REJECTED_MESSAGE, kind="sis_refused",
        notes="Not sent again until its payload changes; the row stays while the ledger says "
              "the SIS refuses it.",
    ),
    SisRule(
        id=LINE_ITEM_REFUSED_BY_SIS, entities=("result",),
        summary="the SIS refused the score's line item, so the score is not sent (blocked)",
        message=LINE_ITEM_REFUSED_MESSAGE, kind="follows",
        notes="One row per score of a refused line item, for as long as the SIS refuses it; "
              "the line item's own row is `sis_rejected`.",
    ),
)
