"""Which of cosmic-ray's operators a run applies.

Cosmic-ray replaces each arithmetic operator with all eleven others and each comparison with all seven
others: 686 mutants for a 143-line module, most of them killed by any test that runs the line. The run
keeps the "sufficient" set of Offutt et al. (1996) instead: one replacement per arithmetic operator,
comparisons moved across their boundary (``<`` to ``<=``) and negated (``<`` to ``>=``), deleted
unary operators, and every operator cosmic-ray has that is not one of these families (numbers off by
one, ``True``/``False``, ``and``/``or``, ``not`` added, loops run zero times, ``break``/``continue``).
"""

from __future__ import annotations

from collections.abc import Iterable

FAMILIES = ("core/ReplaceBinaryOperator_", "core/ReplaceComparisonOperator_", "core/ReplaceUnaryOperator_")

KEPT_IN_FAMILIES = frozenset(
    "core/ReplaceBinaryOperator_" + name
    for name in ("Add_Sub", "Sub_Add", "Mul_Div", "Div_Mul", "FloorDiv_Div", "Mod_FloorDiv", "Pow_Mul",
                 "BitAnd_BitOr", "BitOr_BitAnd", "BitXor_BitOr", "LShift_RShift", "RShift_LShift")
) | frozenset(
    "core/ReplaceComparisonOperator_" + name
    for name in ("Lt_LtE", "Lt_GtE", "LtE_Lt", "LtE_Gt", "Gt_GtE", "Gt_LtE", "GtE_Gt", "GtE_Lt",
                 "Eq_NotEq", "NotEq_Eq", "Is_IsNot", "IsNot_Is")
) | frozenset(
    "core/ReplaceUnaryOperator_" + name for name in ("Delete_Not", "Delete_USub", "Delete_Invert", "USub_UAdd")
)


def is_kept(operator: str) -> bool:
    return not operator.startswith(FAMILIES) or operator in KEPT_IN_FAMILIES


def excluded(all_operators: Iterable[str]) -> list[str]:
    """Anchored patterns for cosmic-ray's operators-filter: every operator the run leaves out."""
    return [f"^{name}$" for name in sorted(all_operators) if not is_kept(name)]
