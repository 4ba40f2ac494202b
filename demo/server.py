"""`fashiongan demo`: serve the demo page, its vendored LiteRT.js files and one or more export
folders (by default every pretrained generator, one per dataset) on the loopback interface.
Standard library only (no TensorFlow); the page does the inference."""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import io
import json
import os
import posixpath
import sys
import urllib.parse
from pathlib import Path

from fashiongan import pretrained, spec
from fashiongan.errors import FashionGANError
from fashiongan.inference.manifest import ManifestError, read_manifest, verify_artifact

PAGE_DIR = Path(__file__).resolve().parent
MODEL_PREFIX = "/model/"  # /model/<name>/<file>: a file of the export folder served as <name>
NOT_SERVED = "__not_served__"  # a name that never exists: the answer to a refused path
SPEC_PATH = "/spec.json"  # what the page reads of fashiongan.spec
# A page file stored compressed as NAME.gz (LiteRT.js's WebAssembly) is served as NAME: as stored,
# with Content-Encoding gzip, to a client that accepts gzip, and decompressed to any other.
PRECOMPRESSED_SUFFIX = ".gz"
IDLE_TIMEOUT_S = 30  # a connection whose client sends or reads nothing for this long is closed
# The page feeds float32 noise and reads float32 images: every TFLite file but the full-integer one.
TFLITE_ARTIFACTS = tuple(artifact.name for artifact in spec.artifacts_of("tflite") if not artifact.integer_io)
TYPES = {
    ".js": "text/javascript",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".tflite": "application/octet-stream",
    ".html": "text/html; charset=utf-8",
}


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header allows gzip (`gzip` or `*`, with a q-value above 0)."""
    for entry in (accept_encoding or "").lower().split(","):
        coding, *parameters = (part.strip() for part in entry.split(";"))
        quality = next((parameter[2:] for parameter in parameters if parameter.startswith("q=")), "1")
        with contextlib.suppress(ValueError):
            if coding in ("gzip", "*") and float(quality) > 0:
                return True
    return False


def page_spec(names: list[str]) -> bytes:
    """What the page needs: the generators it may pick from, the first one the default, and the
    TFLite artifacts in the order it tries them."""
    return json.dumps({"generators": names, "tflite_artifacts": list(TFLITE_ARTIFACTS)}).encode()


def served_folders(exports: list[str | os.PathLike] | None = None) -> dict[str, Path]:
    """The export folders to serve by the name the page shows: each given folder or pretrained
    name, or else every pretrained generator (the default dataset's first)."""
    if not exports:
        names = sorted(pretrained.generator_names(), key=lambda name: name != spec.DEFAULT_DATASET)
        exports = list(names or [spec.DEFAULT_DATASET])
    folders: dict[str, Path] = {}
    for export in exports:
        folder = pretrained.resolve(export)
        base = folder.resolve().name or "model"  # `.`, `..` and `/` get a name a URL can hold
        name, copy = base, 2
        while name in folders:
            name, copy = f"{base}-{copy}", copy + 1
        folders[name] = folder
    return folders


def check_export(folder: Path) -> list[str]:
    """Refuse a folder that is not an export; return warnings for a TFLite file that is missing
    or fails its checksum (the page then shows the error itself)."""
    if not folder.is_dir():
        raise FashionGANError(f"{folder}: no such export folder")
    manifest = read_manifest(folder)
    present = [name for name in TFLITE_ARTIFACTS if name in manifest.get("artifacts", {})]
    if not present:
        return [f"{folder} has no TFLite artifact; the page will say so"]
    try:
        verify_artifact(folder, manifest["artifacts"][present[0]])
    except ManifestError as error:
        return [f"{error}; the page will show the load error"]
    return []


class DemoHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the page folder, and each export folder under /model/<name>/; nothing else."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def __init__(self, *args, export_dirs: dict[str, Path], **kwargs):
        self.export_dirs = export_dirs
        super().__init__(*args, directory=str(PAGE_DIR), **kwargs)

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(IDLE_TIMEOUT_S)  # read per connection

    def handle(self) -> None:
        """A client that goes away (a reset, a closed socket) ends its connection silently."""
        with contextlib.suppress(ConnectionError):
            super().handle()

    def translate_path(self, path: str) -> str:
        """The file a URL path names, or a path that does not exist: nothing outside the page
        and export folders (`..` in any spelling, links out), no NUL bytes, no Python files."""
        path = posixpath.normpath(urllib.parse.unquote(urllib.parse.urlsplit(path).path))
        if "\x00" in path:
            return str(PAGE_DIR / NOT_SERVED)
        if path.startswith(MODEL_PREFIX):
            name, _, relative = path[len(MODEL_PREFIX) :].partition("/")
            if name not in self.export_dirs or not relative:
                return str(PAGE_DIR / NOT_SERVED)
            root = self.export_dirs[name]
        else:
            root, relative = PAGE_DIR, path.lstrip("/")
            if relative.endswith(".py") or relative.startswith("__pycache__"):
                return str(PAGE_DIR / NOT_SERVED)
        target = (root / relative) if relative else (root / "index.html")
        if not target.resolve().is_relative_to(root.resolve()):
            return str(PAGE_DIR / NOT_SERVED)
        return str(target)

    def list_directory(self, path):
        """No folder listings: only the files the page asks for."""
        self.send_error(404, "Not found")
        return None

    def send_head(self):
        """Status and headers, and the body for GET to copy; shared by GET and HEAD."""
        if urllib.parse.urlsplit(self.path).path == SPEC_PATH:
            return self._send_body(page_spec(list(self.export_dirs)), TYPES[".json"])
        path = Path(self.translate_path(self.path))
        packed = path.with_name(path.name + PRECOMPRESSED_SUFFIX)
        if path.is_relative_to(PAGE_DIR) and not path.exists() and packed.is_file():
            stored = packed.read_bytes()
            if accepts_gzip(self.headers.get("Accept-Encoding")):
                return self._send_body(stored, self.guess_type(str(path)), encoding="gzip")
            return self._send_body(gzip.decompress(stored), self.guess_type(str(path)))
        return super().send_head()

    def _send_body(self, body: bytes, content_type: str, encoding: str | None = None) -> io.BytesIO:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        if os.environ.get("FASHIONGAN_DEMO_LOG"):
            super().log_message(format, *args)


def make_server(folders: dict[str, Path], port: int = 0, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
    """A server, bound but not yet serving, of the page and each export folder by its name."""
    handler = functools.partial(DemoHandler, export_dirs={name: folder.resolve() for name, folder in folders.items()})
    try:
        return http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        raise FashionGANError(f"cannot listen on {host}:{port} ({error.strerror})") from None


def serve(exports: list[str | os.PathLike] | None = None, port: int = 8000, host: str = "127.0.0.1") -> None:
    """Serve export folders or pretrained generators by name (default: every pretrained one),
    until interrupted; prints the address (port 0 picks a free one)."""
    folders = served_folders(exports)
    for folder in folders.values():
        for warning in check_export(folder):
            print(f"warning: {warning}", file=sys.stderr)
    server = make_server(folders, port, host)
    with server:
        shown = ", ".join(str(folder) for folder in folders.values())
        print(f"demo of {shown} at http://{host}:{server.server_port}/ (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
