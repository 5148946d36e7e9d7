"""Rule-level diff between two bundles' files (BUNDLES §5 ``diff``)."""

from edge_assembler.core.bundle import BundleDiff, DocumentDiff, diff

OLD = {
    "manifest.json": b"{}",
    "rules/ads.json": b'{"rules": [{"id": "preroll", "at": 0}, {"id": "midroll", "at": 600}]}',
    "rules/assets.toml": b'[assets.ad1]\nurl = "a"\n[assets.ad2]\nurl = "b"\n',
    "rules/gone.json": b"{}",
    "tests/t.json": b"[1]",
}
NEW = {
    "manifest.json": b'{"changed": true}',
    "rules/ads.json": b'{"rules": [{"id": "preroll", "at": 5}, {"id": "postroll", "at": -1}]}',
    "rules/assets.toml": b'[assets.ad1]\nurl = "a"\n[assets.ad3]\nurl = "c"\n',
    "rules/new.json": b"{}",
    "tests/t.json": b"[2]",
}


def test_diff_files_and_items() -> None:
    assert diff(OLD, NEW) == BundleDiff(
        added=("rules/new.json",),
        removed=("rules/gone.json",),
        changed=("rules/ads.json", "rules/assets.toml", "tests/t.json"),
        documents=(
            DocumentDiff(
                file="rules/ads.json",
                added=("rules:postroll",),
                removed=("rules:midroll",),
                changed=("rules:preroll",),
            ),
            DocumentDiff(file="rules/assets.toml", added=("assets:ad3",), removed=("assets:ad2",)),
        ),
    )


def test_diff_of_identical_files_is_empty() -> None:
    assert diff(OLD, dict(OLD)) == BundleDiff()


def test_unparseable_documents_are_compared_as_bytes() -> None:
    result = diff({"rules/a.toml": b"x = "}, {"rules/a.toml": b"x = 1"})
    assert result == BundleDiff(changed=("rules/a.toml",))


def test_other_top_level_keys_are_items() -> None:
    result = diff(
        {"rules/a.json": b'{"version": 1, "salt": "x"}'},
        {"rules/a.json": b'{"version": 2, "salt": "x"}'},
    )
    assert result.documents == (DocumentDiff(file="rules/a.json", changed=("version",)),)


def test_other_file_types_are_compared_as_bytes() -> None:
    assert diff({"tests/a.txt": b"1"}, {"tests/a.txt": b"2"}) == BundleDiff(
        changed=("tests/a.txt",)
    )
