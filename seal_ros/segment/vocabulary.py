"""Class vocabularies and prompt templates: validation with reasons.

A vocabulary is a list of class names the user chooses at run time. Names are
cleaned (surrounding blanks stripped, inner runs of white space collapsed to
one space) and must be unique after normalisation (cleaned and lower-cased):
``"Car"`` and ``" car "`` are the same class. Every check returns a one-line
reason, which the node hands back to ``ros2 param set``.
"""
from __future__ import annotations

import re
from typing import Optional, Sequence

MAX_CLASSES = 256
MAX_NAME_CHARS = 64
MAX_TEMPLATES = 32
MAX_TEMPLATE_CHARS = 200
PLACEHOLDER = "{}"

# The segmenter's default class lists (node parameters and ``seal-ros segment``).
DEFAULT_VOCABULARY = ("person", "car", "bicycle", "motorcycle", "bus", "truck", "dog", "cat", "chair", "bottle")
DEFAULT_PART_VOCABULARY = ("head", "arm", "leg", "torso", "wheel", "door", "window", "headlight")

# CLIP-style default: one plain template (SEAL classifies with the bare prompt set
# it was trained with; more templates average the text embeddings).
DEFAULT_TEMPLATES = ("a photo of a {}.",)

_SPACES = re.compile(r"\s+")


def clean(name: str) -> str:
    """``name`` without surrounding blanks and with inner white space collapsed."""
    return _SPACES.sub(" ", str(name)).strip()


def normalise(name: str) -> str:
    """The key two names are compared by: cleaned and lower-cased."""
    return clean(name).lower()


def check_vocabulary(names, what: str = "vocabulary") -> Optional[str]:
    """The reason ``names`` is not a usable vocabulary, or None."""
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        return f"{what} must be a list of strings, got {type(names).__name__}"
    if len(names) == 0:
        return f"{what} is empty: give at least one class name"
    if len(names) > MAX_CLASSES:
        return f"{what} has {len(names)} names; at most {MAX_CLASSES} are allowed"
    seen: dict[str, int] = {}
    for i, raw in enumerate(names):
        if not isinstance(raw, str):
            return f"{what}[{i}] is not a string ({raw!r})"
        name = clean(raw)
        if not name:
            return f"{what}[{i}] is blank"
        if len(name) > MAX_NAME_CHARS:
            return f"{what}[{i}] {name[:20]!r}... has {len(name)} characters; at most {MAX_NAME_CHARS}"
        if not name.isprintable():
            return f"{what}[{i}] {name!r} contains control characters"
        key = normalise(name)
        if key in seen:
            return f"{what}[{i}] {name!r} repeats {what}[{seen[key]}] {clean(names[seen[key]])!r} (names are compared case- and space-insensitively)"
        seen[key] = i
    return None


def clean_vocabulary(names) -> list[str]:
    """Validated, cleaned names (raises ValueError with the reason)."""
    reason = check_vocabulary(names)
    if reason is not None:
        raise ValueError(reason)
    return [clean(n) for n in names]


def check_templates(templates) -> Optional[str]:
    """The reason ``templates`` is not a usable prompt-template list, or None.

    Each template holds the placeholder ``{}`` exactly once, e.g. ``"a photo of a {}."``.
    """
    if isinstance(templates, (str, bytes)) or not isinstance(templates, Sequence):
        return f"prompt_templates must be a list of strings, got {type(templates).__name__}"
    if len(templates) == 0:
        return "prompt_templates is empty: use ['{}'] for the bare class name"
    if len(templates) > MAX_TEMPLATES:
        return f"prompt_templates has {len(templates)} entries; at most {MAX_TEMPLATES}"
    seen = set()
    for i, t in enumerate(templates):
        if not isinstance(t, str):
            return f"prompt_templates[{i}] is not a string ({t!r})"
        if t.count(PLACEHOLDER) != 1:
            return f"prompt_templates[{i}] {t!r} must contain the placeholder {{}} exactly once"
        if len(t) > MAX_TEMPLATE_CHARS:
            return f"prompt_templates[{i}] has {len(t)} characters; at most {MAX_TEMPLATE_CHARS}"
        if "{" in t.replace(PLACEHOLDER, "") or "}" in t.replace(PLACEHOLDER, ""):
            return f"prompt_templates[{i}] {t!r} has a stray brace; only one {{}} is allowed"
        if t in seen:
            return f"prompt_templates[{i}] {t!r} is repeated"
        seen.add(t)
    return None


def expand(names: Sequence[str], templates: Sequence[str] = DEFAULT_TEMPLATES) -> list[list[str]]:
    """For each class, its prompt texts (one per template)."""
    return [[t.replace(PLACEHOLDER, clean(n)) for t in templates] for n in names]
