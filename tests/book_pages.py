"""Where the built book is and which pages it has (shared by the book tests)."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        files += [entry["file"] for entry in part["chapters"]]
    return files


def chapter_files() -> list[str]:
    """The numbered chapters (the notebooks), e.g. chapters/01_simulating_rainfall."""
    return [name for name in toc_files() if Path(name).name[:2].isdigit()]


def page(name: str) -> str:
    return (HTML / f"{name}.html").read_text(encoding="utf-8")
