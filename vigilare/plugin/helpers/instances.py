"""Judge an instance type by its name, for the types AWS did not describe (EC2 and SageMaker ``ml.``)."""

from __future__ import annotations

ACCELERATED_FAMILIES = ("p", "g", "inf", "trn", "dl")
"""GPU (``p``, ``g``), inference (``inf``), training (``trn``) and Gaudi (``dl``) families."""


def is_accelerated_type(instance_type: str) -> bool:
    """True for a GPU, inference or training family: ``g5.xlarge``, ``p4d.24xlarge``,
    ``ml.trn1.32xlarge``, ``ml.inf2.xlarge`` (the family is named by the letters before its first
    digit; SageMaker's ``ml.`` prefix is ignored)."""
    family = instance_type.removeprefix("ml.").split(".", 1)[0]
    letters = ""
    for character in family:
        if character.isdigit():
            break
        letters += character
    return letters in ACCELERATED_FAMILIES
