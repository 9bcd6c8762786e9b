"""The samples' persona conversations: no file under examples/raw any more.

Who the assistant is belongs to the user's config, so collect's `persona` source makes these
conversations from `params.yaml`'s `persona:` whatever data it reads (javis/data/persona.py holds
the templates that used to be written out here as raw/persona.jsonl). `make_examples.py` counts
them for README.md and `check_examples.py` checks them with the rest of the samples.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from javis.core import params  # noqa: E402
from javis.data import persona  # noqa: E402


def conversations() -> list[dict]:
    """The persona conversations collect adds to the samples: params.yaml's `persona` rendered
    (`{"id": "persona-001", "messages": [...]}`, in template order)."""
    return persona.conversations(params.load(ROOT / "params.yaml").persona)
