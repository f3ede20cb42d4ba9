"""The notice every piece of SYNTHETIC data carries (the demo, its reports, its map), so that no
one mistakes it for safety information. A store holding synthetic data says so in its settings
(``synthetic``, ``synthetic_notice``), and every face shows this notice with what it serves."""

from __future__ import annotations

__all__ = ["SYNTHETIC_NOTICE", "SYNTHETIC_NOTICE_UK"]

SYNTHETIC_NOTICE = (
    "SYNTHETIC DEMO DATA – not real hazard information; do not use for safety decisions."
)
SYNTHETIC_NOTICE_UK = (
    "СИНТЕТИЧНІ ДЕМОНСТРАЦІЙНІ ДАНІ – це не реальна інформація про небезпеку; "
    "не використовуйте їх для рішень щодо безпеки."
)
