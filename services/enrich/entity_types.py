"""Decides one entity's type from all the evidence its mentions collected.

The order encodes how far each source is trusted:
  1. the gazetteer (a listed organisation),
  2. a decisive rule ("Lake Tahoe" is a place whatever the model says),
  3. the model's full-name person ("Ruta Singh"): full names are what the CRF gets right,
  4. a strong organisation rule, then a photo/source credit (kinds no rule uses since the
     rules without a dev-set gain went, see entity_rules; the ranking stays for new ones),
  5. the model's majority label, except that a lone-word "person" that never appears with a
     first name gives way to a context rule ("bei Siemens"),
  6. a context rule alone, for a name-shaped word the model missed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .entity_rules import CREDIT, DECISIVE, STRONG, WEAK, looks_like_name
from .mention import ORG, PER


@dataclass
class Evidence:
    gazetteer: bool = False
    decisive: Counter = field(default_factory=Counter)  # label -> mentions
    model: Counter = field(default_factory=Counter)
    model_full_name_person: bool = False
    strong: int = 0
    credit: int = 0
    weak: Counter = field(default_factory=Counter)

    def add(self, source: str, label: str, kind: str, tokens: int) -> None:
        if source == "gazetteer":
            self.gazetteer = True
        elif source == "model":
            self.model[label] += 1
            if label == PER and tokens >= 2:
                self.model_full_name_person = True
        elif kind == DECISIVE:
            self.decisive[label] += 1
        elif kind == STRONG:
            self.strong += 1
        elif kind == CREDIT:
            self.credit += 1
        elif kind == WEAK:
            self.weak[label] += 1

    def merge(self, other: "Evidence") -> None:
        self.gazetteer |= other.gazetteer
        self.decisive.update(other.decisive)
        self.model.update(other.model)
        self.model_full_name_person |= other.model_full_name_person
        self.strong += other.strong
        self.credit += other.credit
        self.weak.update(other.weak)


def resolve(evidence: Evidence, name: str) -> str | None:
    """PER, ORG, LOC, MISC, or None when nothing says this is a name."""
    if evidence.gazetteer:
        return ORG
    if evidence.decisive:
        return evidence.decisive.most_common(1)[0][0]
    if evidence.model_full_name_person:
        return PER
    if evidence.strong or evidence.credit:
        return ORG
    if evidence.model:
        label = _majority(evidence.model)
        if label == PER and evidence.weak:
            return _majority(evidence.weak)
        return label
    if evidence.weak and looks_like_name(name):
        return _majority(evidence.weak)
    return None


def _majority(labels: Counter) -> str:
    # Ties go to the label seen first in (PER, ORG, LOC, MISC) order: stable across runs.
    best = max(labels.values())
    return next(label for label in ("PER", "ORG", "LOC", "MISC") if labels.get(label) == best)
