"""A record in words: the conclusion every chapter and the Results page show for a reproduction."""
from __future__ import annotations

__all__ = ["method_arms", "paper_text", "interval_text", "effect_text", "premise_text", "readings_text", "measures_text",
           "conclusion"]


def method_arms(record: dict) -> list[str]:
    """The arms that stand for the paper's method: the compared method arm, then the arm of every other reading of
    an open point in the record's protocol (each trains the same method, read another way)."""
    method_arm = record["effect"]["of"].split(" - ")[0]
    readings = (record.get("protocol") or {}).get("readings") or []
    return [method_arm] + [reading["arm"] for reading in readings if reading["arm"] != method_arm]


def paper_text(record: dict) -> str:
    """What the paper reports for the claim: its number for the method with the setting (data set, model, T), the
    claim in the paper's words where it is not a single number (``paper_result["claim"]``, e.g. a lossless conversion
    or a latency ratio), or that no published number is available. Where the paper leaves a point open, its number
    is the method's under whichever reading it trained, and is said to be so."""
    paper = record.get("paper_result")
    if not paper:
        return "no published number for this claim is available to this kit; the claim is tested as an effect"
    context = [str(paper[key]) for key in ("dataset", "model") if key in paper]
    context += [f"T = {paper['T']}"] if "T" in paper else []
    arms = method_arms(record)
    value = next((paper[arm] for arm in arms if isinstance(paper.get(arm), (int, float))), None)
    if value is not None and len(arms) > 1:
        head = f"{value} % for the paper's method, under the reading its authors trained"
    elif value is not None:
        head = f"{value} %"
    elif paper.get("claim"):
        head = paper["claim"]
    else:
        head = "no number for this arm"
    note = f"; {paper['note']}" if paper.get("note") else ""
    return f"{head} ({', '.join(context)}{note})" if context or note else head


def interval_text(effect: dict) -> str:
    """The 95 % interval of a paired effect as ``[low, high]`` (none for a single seed)."""
    interval = effect.get("ci")
    return f"[{interval[0]:+.2f}, {interval[1]:+.2f}]" if interval else "[none for a single seed]"


def effect_text(effect: dict) -> str:
    """``mean difference [95 % CI] (n seeds)``, in the metric's units."""
    return f"{effect['mean']:+.2f} {interval_text(effect)} ({effect['n']} seed{'s' if effect['n'] != 1 else ''})"


def premise_text(premise: dict) -> str:
    """The premise, what was measured with its 95 % interval, and its status (holds, fails or uncertain)."""
    if premise["status"] == "not measured":
        return f"{premise['statement']} — not measured in this record"
    return (f"{premise['statement']} — measured {premise['measured']:+.2f} {interval_text(premise)} (needs "
            f"{premise['comparison']} {premise['threshold']:g} with an interval that excludes 0): "
            f"**{premise['status']}**")


def readings_text(record: dict) -> str:
    """Markdown: one line per reading of the paper's open point — its verdict, effect and what the paper's text says
    of it (empty when the protocol declares no readings)."""
    readings = record.get("readings") or {}
    lines = [f"* **{name}** ({reading['meaning']}{'; the reading the text supports' if reading['favoured'] else ''}): "
             f"{reading['effect']['verdict']}, {reading['of']} = {effect_text(reading['effect'])}. "
             f"{reading['support'][0].upper()}{reading['support'][1:]}."
             for name, reading in readings.items()]
    return "\n".join(lines)


def measures_text(measures: dict, judged: bool) -> str:
    """Markdown: one line per further claim (``judged``: with its verdict) or diagnostic, with its interval."""
    return "\n".join(f"* {measure['statement']}: {measure['of']} = {effect_text(measure)}"
                     + (f" — **{measure['verdict']}**" if judged else "") for measure in measures.values())


def conclusion(record: dict) -> str:
    """Markdown: the verdict with the difference's 95 % interval, the minimum detectable effect and the test split,
    the premise, the paper's number, and, for a saved record made with another setting than the current preset,
    the differences and the command that brings it up to date. ``record`` is assessed (it has ``premise`` and the
    interval; :func:`~snnlab.repro.registry.assess`)."""
    effect, premise = record["effect"], record["premise"]
    details = [f"difference {effect['of']} = {effect_text(effect)}"]
    if effect.get("mde") is not None:
        details.append(f"minimum detectable effect {effect['mde']:.2f} at {effect['power']:.0%} power")
    if effect.get("test_size"):
        details.append(f"test split {effect['test_size']:,} samples (one sample = {100 / effect['test_size']:.3f} "
                       "points)")
    standing = record.get("protocol_status", "")
    standing_note = "" if standing == "confirmatory" else f", {standing}"
    lines = [f"**Verdict: {effect['verdict']}**{standing_note} — " + "; ".join(details) + f". Rule: {effect['rule']}.",
             f"Premise: {premise_text(premise)}."]
    if record.get("readings"):
        lines.append(f"The paper leaves open {record['open_point']}; each reading is an arm with its own verdict:\n\n"
                     + readings_text(record))
    if record.get("further_claims"):
        lines.append("Further claims of the paper:\n\n" + measures_text(record["further_claims"], judged=True))
    if record.get("diagnostics"):
        lines.append("Diagnostics (no verdict):\n\n" + measures_text(record["diagnostics"], judged=False))
    lines.append(f"Paper: {paper_text(record)}.")
    if record.get("stale"):
        lines.append(f"This record was made with another setting than the current `{record['preset']}` preset ("
                     + "; ".join(record["stale"]) + f"); `snnlab reproduce {record['name']} --preset "
                     f"{record['preset']}` brings it up to date.")
    return "\n\n".join(lines)
