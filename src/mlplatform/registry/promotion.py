"""Champion/challenger gate. Pure: scores in, a decision with its reason out."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    metric: str
    candidate_score: float
    champion_version: str | None = None
    champion_score: float | None = None
    tolerance: float = 0.0

    def as_tags(self) -> dict[str, str]:
        """Recorded on the new model version so the decision can be read back from MLflow."""
        return {f"promotion.{key}": "" if value is None else str(value) for key, value in asdict(self).items()} | {
            "promotion.decision": "promoted" if self.promote else "challenger"
        }


def decide(
    candidate_score: float,
    champion_version: str | None,
    champion_score: float | None,
    *,
    metric: str,
    tolerance: float = 0.0,
    auto_promote: bool = True,
    higher_is_better: bool = True,
) -> PromotionDecision:
    """Promote when there is no champion, or the candidate is at least as good as the champion
    within `tolerance` (>= champion - tolerance; for a lower-is-better metric such as RMSE,
    <= champion + tolerance).

    `champion_score` is the champion's score on the candidate's holdout; None with a champion
    means the champion could not be scored on it (different features), so no automatic swap.
    """
    common = {"metric": metric, "candidate_score": candidate_score, "tolerance": tolerance}
    champion = {"champion_version": champion_version, "champion_score": champion_score}
    if not auto_promote:
        return PromotionDecision(False, "automatic promotion is off", **common, **champion)
    if champion_version is None:
        return PromotionDecision(True, "no champion yet", **common)
    if champion_score is None:
        return PromotionDecision(
            False,
            f"champion v{champion_version} cannot be scored on this holdout (different features); "
            "promote by hand if intended",
            **common,
            **champion,
        )
    sign = 1.0 if higher_is_better else -1.0  # compare as "higher is better" either way
    at_least, worse = (">=", "<") if higher_is_better else ("<=", ">")
    if sign * candidate_score >= sign * champion_score - tolerance:
        comparison = at_least if sign * candidate_score >= sign * champion_score else "within tolerance of"
        return PromotionDecision(
            True,
            f"{metric} {candidate_score:.4f} {comparison} champion v{champion_version} {champion_score:.4f}",
            **common,
            **champion,
        )
    return PromotionDecision(
        False,
        f"{metric} {candidate_score:.4f} {worse} champion v{champion_version} {champion_score:.4f}"
        + (f" {'-' if higher_is_better else '+'} {tolerance}" if tolerance else ""),
        **common,
        **champion,
    )
