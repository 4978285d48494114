"""One registry of error codes: every code raised anywhere is registered and documented.

The source of ``blt_status/``, ``tui/`` and ``bots/`` is read (``ast``) for every call that
makes an error of the tree in ``blt_status/errors.py`` (``XError("code", ...)``, the classes
that set their own code, and the helpers that build one, like ``sync_error("code")``). Each
code must be in :data:`blt_status.errors.MESSAGES` (its English template, translated through
the catalogs) and appear as `` `code` `` in README.md or docs/*.md.

The older form ``XError(code, id_text, en_text)`` is allowed only where it is listed in
:data:`LEGACY` below — parts other people are rewriting now (the central side, sync, the bot).
That list may only shrink: a new legacy call fails this test.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from blt_status.errors import MESSAGES, AuditError, BltError, CapacityShortError, CentralError

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("blt_status", "tui", "bots")

# file -> codes still raised in the old (code, id_text, en_text) form, to convert later. This
# list may only shrink. Left: the program and payout-point checks, whose messages are built
# from a sentence fragment per problem (each needs a whole sentence of its own).
LEGACY: dict[str, set[str]] = {
    "blt_status/central/inputs.py": {"payout_points_invalid", "program_invalid"},
}
# Calls whose code is computed: the file and every code it can produce.
DYNAMIC: dict[str, set[str]] = {
    "blt_status/nik.py": {"kk_empty", "kk_not_digits", "kk_length", "kk_province", "kk_region"},
    "blt_status/central/inputs.py": {"toml_encoding", "csv_encoding"},
}
# Codes a user meets that no exception carries: printed by the command line itself.
PRINTED = {"usage", "internal"}


@dataclass(frozen=True)
class Raise:
    path: str
    line: int
    code: str | None  # None: computed at run time
    legacy: bool


def python_files() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def error_classes(trees: dict[str, ast.Module]) -> dict[str, tuple[str, bool]]:
    """Class name -> (its code, whether its ``__init__`` sets the code itself)."""
    classes: dict[str, tuple[str, bool]] = {"BltError": ("error", False)}
    changed = True
    while changed:
        changed = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if not isinstance(node, ast.ClassDef) or node.name in classes:
                    continue
                bases = [base.id for base in node.bases if isinstance(base, ast.Name)]
                parent = next((base for base in bases if base in classes), None)
                if parent is None:
                    continue
                code = classes[parent][0]
                own_init = False
                for item in node.body:
                    if (isinstance(item, ast.Assign) and isinstance(item.value, ast.Constant)
                            and any(isinstance(t, ast.Name) and t.id == "code"
                                    for t in item.targets)):
                        code = str(item.value.value)
                    if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                        own_init = True
                classes[node.name] = (code, own_init)
                changed = True
    return classes


def _call_name(node: ast.Call) -> str:
    if isinstance(node.func, ast.Name):
        return node.func.id
    return node.func.attr if isinstance(node.func, ast.Attribute) else ""


def _error_call(node: ast.AST, classes: dict[str, tuple[str, bool]]) -> ast.Call | None:
    return node if isinstance(node, ast.Call) and _call_name(node) in classes else None


def factories(trees: dict[str, ast.Module], classes: dict[str, tuple[str, bool]],
              ) -> dict[str, bool]:
    """Helpers ``f(code, ...)`` that make an error with that code -> whether in the old form."""
    found: dict[str, bool] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.FunctionDef) and node.args.args
                    and node.args.args[0].arg == "code"):
                continue
            for inner in ast.walk(node):
                call = _error_call(inner, classes)
                if call is not None and call.args and isinstance(call.args[0], ast.Name) \
                        and call.args[0].id == "code":
                    found[node.name] = len(call.args) >= 2
    return found


def raised_codes() -> list[Raise]:
    trees = {str(path.relative_to(ROOT)): ast.parse(path.read_text(encoding="utf-8"))
             for path in python_files()}
    classes = error_classes(trees)
    helpers = factories(trees, classes)
    found: list[Raise] = []
    for path, tree in trees.items():
        inside_helpers = {id(inner) for node in ast.walk(tree)
                          if isinstance(node, ast.FunctionDef) and node.name in helpers
                          for inner in ast.walk(node)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or (id(node) in inside_helpers and node.args \
                    and isinstance(node.args[0], ast.Name) and node.args[0].id == "code"):
                continue
            name = _call_name(node)
            first = node.args[0] if node.args else None
            if name in helpers:
                code = first.value if isinstance(first, ast.Constant) else None
                found.append(Raise(path, node.lineno, code, helpers[name]))
                continue
            if name not in classes or (name == "BltError" and path == "blt_status/errors.py"):
                continue
            class_code, own_init = classes[name]
            if own_init:  # NotInstalled(data_dir), CapacityShortError(...): their own code
                found.append(Raise(path, node.lineno, class_code, False))
                continue
            legacy = len(node.args) >= 2
            if first is None or (isinstance(first, ast.Constant) and first.value is None):
                found.append(Raise(path, node.lineno, class_code, legacy))
            elif isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append(Raise(path, node.lineno, first.value, legacy))
            else:
                found.append(Raise(path, node.lineno, None, legacy))
    return found


def documented_codes() -> set[str]:
    texts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    texts += [path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md"))]
    return set(re.findall(r"`([a-z][a-z0-9_]*)`", "\n".join(texts)))


RAISES = raised_codes()


def test_a_variant_sentence_keeps_the_code() -> None:
    error = CentralError("store_corrupt:epoch", epoch="e7")
    assert error.code == "store_corrupt" and error.line("en") == (
        "error [store_corrupt]: Key epoch e7 is missing from secrets.json.")
    assert error.message("id") == "Epoch kunci e7 tidak ada di secrets.json."
    assert error.to_dict("en")["code"] == "store_corrupt"


def test_how_an_index_is_damaged_is_said_in_the_readers_language() -> None:
    """The detail of ``index_corrupt`` was English inside an Indonesian sentence; a technical
    name (an exception's class) stays as it is."""
    from blt_status.crypto import IndexKey, open_record, seal_record
    from blt_status.errors import IndexCorrupt

    key = IndexKey.from_root(bytes(32))
    blob = bytearray(seal_record(key, b"{}", shard="32.01.01", view="officer"))
    blob[-1] ^= 1  # one flipped bit
    with pytest.raises(IndexCorrupt) as raised:
        open_record(key, bytes(blob), shard="32.01.01", view="officer")
    record = raised.value
    assert record.code == "index_corrupt"
    assert record.message("id") == ("Sebuah catatan di data rusak (catatan itu gagal "
                                    "diautentikasi): jalankan `blt-status sync` lagi.")
    assert record.message("en") == ("A record of the index is corrupt (it fails "
                                    "authentication): run `blt-status sync` again.")
    technical = IndexCorrupt("/d/index.db", "DatabaseError")
    assert technical.message("id") == ("Berkas data /d/index.db rusak (DatabaseError): "
                                       "jalankan `blt-status sync` lagi.")


def test_the_walk_finds_raises_of_every_form() -> None:
    by_code = {(item.path, item.code) for item in RAISES}
    assert ("blt_status/nik.py", "serial") in by_code  # NikError("serial", subject=...)
    assert ("blt_status/device.py", "not_installed") in by_code  # NotInstalled(data_dir)
    assert ("blt_status/sync/_client.py", "sync_busy") in by_code  # sync_error("sync_busy")
    assert ("blt_status/central/store.py", "store_exists") in by_code  # _central_error(...)
    assert any(item.legacy for item in RAISES)  # the old form is seen, where it is left


def all_codes() -> set[str]:
    codes = {item.code for item in RAISES if item.code is not None}
    for possible in DYNAMIC.values():
        codes |= possible
    return codes


def test_every_raised_code_is_registered() -> None:
    legacy_codes = set().union(*LEGACY.values())
    unregistered = sorted(code for code in all_codes()
                          if code not in MESSAGES and code not in legacy_codes)
    assert unregistered == [], "add them to MESSAGES in blt_status/errors.py"


def test_every_code_a_user_can_meet_is_documented() -> None:
    documented = documented_codes()
    keys = all_codes() | PRINTED | set(MESSAGES)  # "code:variant": one sentence of code
    missing = sorted({key.partition(":")[0] for key in keys} - documented)
    assert missing == [], "document them in README.md or docs/*.md (docs/errors.md)"


def test_no_new_call_uses_the_old_three_text_form() -> None:
    def allowed(item: Raise) -> bool:
        listed = LEGACY.get(item.path, set())
        if item.code is None:
            return item.path in DYNAMIC and DYNAMIC[item.path] <= listed
        return item.code in listed

    new = sorted(f"{item.path}:{item.line} {item.code}" for item in RAISES
                 if item.legacy and not allowed(item))
    assert new == [], "raise XError(code, **fields) with the code's template in MESSAGES"


def test_computed_codes_only_where_listed() -> None:
    unlisted = sorted(f"{item.path}:{item.line}" for item in RAISES
                      if item.code is None and item.path not in DYNAMIC)
    assert unlisted == []


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_each_registered_template_renders_in_every_language(code: str) -> None:
    template = MESSAGES[code]
    names = {name for name in re.findall(r"\{(\w+)\}", template)}
    error = BltError(code, **dict.fromkeys(names, "X"))
    assert error.message("en") == template.format(**dict.fromkeys(names, "X"))
    assert error.message("id") != error.message("en") or template == "{details}"


def test_the_error_classes_that_lived_outside_are_in_the_tree() -> None:
    from blt_status import audit
    from blt_status.central import schedule

    assert audit.AuditError is AuditError and schedule.CapacityShortError is CapacityShortError
    assert issubclass(CapacityShortError, CentralError) and issubclass(AuditError, BltError)
    short = CapacityShortError([{"desa": "3201010001", "desa_name": "Cibinong", "needed": 5,
                                 "available": 3, "unscheduled": 2,
                                 "points": [{"id": "P1", "available": 3, "used": 3}]}],
                               "2025-01-01..2025-01-02")
    assert "perlu 5, tersedia 3" in short.message("id") and "P1 (3 tempat" in short.message("id")
    assert "needed 5, available 3" in short.message("en")
    assert short.code == "capacity_short" and short.to_dict("en")["shortages"]
