"""The browser demo in a real browser: Debian's Chromium, headless, driven by Playwright, against
`fashiongan demo` on a free loopback port; and its server against hostile clients, over plain sockets."""

import contextlib
import gzip
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fashiongan import inference

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
LOAD_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium for the demo tests")
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), timeout=LOAD_TIMEOUT_MS)
        yield browser
        browser.close()


class DemoServer:
    """`fashiongan demo FOLDER... --port 0` in a subprocess; always stopped on exit."""

    def __init__(self, *folders: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fashiongan", "demo", *map(str, folders), "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline() if ready else ""
        if "http://127.0.0.1:" not in line:
            self.__exit__()
            pytest.fail(f"demo server did not start: {line!r} {self.process.stderr.read()[-2000:]}")
        return line.split(" at ", 1)[1].split()[0]

    def __exit__(self, *exc_info):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone's screen
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    page.goto(url)
    page.wait_for_function("['ready', 'error'].includes(document.body.dataset.state)")
    return page


def grid_tiles(page) -> np.ndarray:
    """The canvas as 16 grey tiles of 28×28."""
    pixels = page.evaluate("""() => {
        const canvas = document.getElementById('grid');
        return Array.from(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data);
    }""")
    grey = np.array(pixels, dtype=np.uint8).reshape(116, 116, 4)[..., 0]
    return np.stack(
        [grey[1 + row * 29 : 29 + row * 29, 1 + col * 29 : 29 + col * 29] for row in range(4) for col in range(4)]
    )


def generate(page, seed: int) -> np.ndarray:
    page.fill("#seed", str(seed))
    page.evaluate("() => { document.body.dataset.state = 'busy'; }")
    page.click("#generate")
    page.wait_for_function("document.body.dataset.state === 'generated'")
    return grid_tiles(page)


@pytest.mark.parametrize("name", ["dcgan", "cdcgan"])
def test_page_draws_the_generator_and_matches_python(exports, browser, name, tmp_path):
    _, export_dir = exports[name]
    with DemoServer(export_dir) as url:
        page = open_page(browser, url)
        assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#error")
        assert page.is_visible("#class-field") == (name == "cdcgan")
        assert not page.is_visible("#dataset-field")  # one export: no picker
        first = generate(page, 1)
        assert first.shape == (16, 28, 28)
        assert all(tile.max() - tile.min() > 10 for tile in first), "a blank tile"
        assert "16 images in" in page.inner_text("#status") and " ms " in page.inner_text("#status")
        assert not np.array_equal(first, generate(page, 2))
        np.testing.assert_array_equal(first, generate(page, 1))

        sampler = inference.load(export_dir, "tflite")
        noise = np.random.default_rng(7).standard_normal(sampler.latent_dim).astype(np.float32)
        label = 3
        from_page = np.array(
            page.evaluate("([noise, label]) => window.fashiongan.run(noise, label)", [noise.tolist(), label]),
            dtype=np.float32,
        )
        from_python = sampler.generate(noise[None], [label] if sampler.conditional else None)
        assert np.abs(from_page - from_python.reshape(-1)).max() <= 1e-3
        screenshot = tmp_path / f"demo-{name}.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 1000
        page.close()


def test_picker_switches_between_the_exports_it_serves(exports, browser):
    """Several exports (by default the pretrained generators, one per dataset): a picker, each
    choice loads its own generator and class list, and switching back keeps working."""
    (_, dcgan), (_, cdcgan) = exports["dcgan"], exports["cdcgan"]
    with DemoServer(dcgan, cdcgan) as url:
        page = open_page(browser, url)
        assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#error")
        names = page.eval_on_selector_all("#dataset option", "options => options.map(o => o.value)")
        assert len(names) == 2 and page.is_visible("#dataset-field") and not page.is_visible("#class-field")
        unconditional = generate(page, 1)
        page.select_option("#dataset", names[1])
        page.wait_for_function("document.body.dataset.state === 'ready'")
        assert page.is_visible("#class-field") and page.evaluate("window.fashiongan.manifest.conditional")
        classes = page.eval_on_selector_all("#class option", "options => options.length")
        assert classes == 1 + len(inference.load(cdcgan, "tflite").class_names)  # and "every class"
        conditional = generate(page, 1)
        assert not np.array_equal(unconditional, conditional)
        sampler = inference.load(cdcgan, "tflite")
        noise = np.random.default_rng(7).standard_normal(sampler.latent_dim).astype(np.float32)
        from_page = page.evaluate("([noise]) => window.fashiongan.run(noise, 4)", [noise.tolist()])
        from_python = sampler.generate(noise[None], [4])
        assert np.abs(np.array(from_page, dtype=np.float32) - from_python.reshape(-1)).max() <= 1e-3
        page.select_option("#dataset", names[0])
        page.wait_for_function("document.body.dataset.state === 'ready'")
        assert not page.is_visible("#class-field")
        np.testing.assert_array_equal(unconditional, generate(page, 1))
        page.close()


def test_a_model_that_fails_to_load_leaves_the_picker_usable(exports, browser, tmp_path):
    _, export_dir = exports["dcgan"]
    corrupt = Path(shutil.copytree(export_dir, tmp_path / "corrupt"))
    (corrupt / "generator.tflite").write_bytes(b"not a flatbuffer" * 64)
    with DemoServer(corrupt, export_dir) as url:
        page = open_page(browser, url)
        assert page.evaluate("document.body.dataset.state") == "error" and page.is_disabled("#generate")
        assert "not a loadable TFLite model" in page.inner_text("#error") and page.is_enabled("#dataset")
        page.select_option("#dataset", export_dir.name)
        page.wait_for_function("document.body.dataset.state === 'ready'")
        assert not page.is_visible("#error") and page.is_enabled("#generate")
        assert generate(page, 1).shape == (16, 28, 28)
        page.close()


def test_missing_or_corrupt_model_shows_the_reason(exports, browser, tmp_path):
    _, export_dir = exports["dcgan"]
    missing = Path(shutil.copytree(export_dir, tmp_path / "missing"))
    (missing / "generator.tflite").unlink()
    corrupt = Path(shutil.copytree(export_dir, tmp_path / "corrupt"))
    (corrupt / "generator.tflite").write_bytes(b"not a flatbuffer" * 64)
    for folder, reason in ((missing, "HTTP 404"), (corrupt, "not a loadable TFLite model")):
        with DemoServer(folder) as url:
            page = open_page(browser, url)
            assert page.evaluate("document.body.dataset.state") == "error"
            message = page.inner_text("#error")
            assert page.is_visible("#error") and "The model failed to load" in message and reason in message
            assert page.is_disabled("#generate")
            page.close()


def test_demo_refuses_a_folder_that_is_not_an_export(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fashiongan", "demo", str(tmp_path / "nowhere"), "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "no such export folder" in result.stderr.strip().splitlines()[-1]


def vendored_bytes(relative: str) -> bytes:
    """A vendored file as npm ships it: read, or decompressed from its stored `.gz`."""
    path = ROOT / "demo" / "vendor" / relative
    return path.read_bytes() if path.exists() else gzip.decompress(path.with_name(path.name + ".gz").read_bytes())


def test_vendored_litertjs_matches_its_recorded_checksums():
    import hashlib
    import re

    vendor = ROOT / "demo" / "vendor"
    recorded = re.findall(r"\| `([^`]+)` \| [^|]+\| `([0-9a-f]{64})` \|", (vendor / "README.md").read_text())
    assert len(recorded) == 4
    for relative, digest in recorded:
        assert hashlib.sha256(vendored_bytes(relative)).hexdigest() == digest, relative
    assert not (vendor / WASM_PATH.removeprefix("/vendor/")).exists()  # stored compressed only


def test_served_folders_default_to_every_pretrained_generator_and_name_each_once(tmp_path, monkeypatch):
    from fashiongan import pretrained, spec
    from fashiongan.demo.server import served_folders

    default = served_folders()
    assert next(iter(default)) == spec.DEFAULT_DATASET and set(default) == set(pretrained.generator_names())
    for name in ("a/export", "b/export"):
        (tmp_path / name).mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "export")
    given = served_folders(["../../a/export", "../../b/export", ".", "mnist"])
    assert list(given) == ["export", "export-2", "export-3", "mnist"]
    assert given["mnist"] == pretrained.generator_dir("mnist")


WASM_PATH = "/vendor/litertjs-core/wasm/litert_wasm_compat_internal.wasm"


@pytest.fixture
def export_folder(tmp_path) -> Path:
    """A folder served as an export: a manifest, and a TFLite file larger than any socket buffer."""
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"artifacts": {}}')
    (folder / "generator.tflite").write_bytes(bytes(16 << 20))
    return folder


@contextlib.contextmanager
def served(folder: Path):
    """The demo server of `folder` (as /model/export/) on a free port of this process. On exit it
    waits for every connection's thread, so all they print is captured by then."""
    from fashiongan.demo.server import make_server

    server = make_server({"export": folder})
    server.daemon_threads = False  # server_close() then joins each connection's thread
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def exchange(port: int, request: str) -> tuple[int, list[bytes], bytes]:
    """Status, header lines (less Date) and body of the answer to one HTTP/1.0 request."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(request.encode())
        answer = b"".join(iter(lambda: client.recv(1 << 16), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *headers = head.split(b"\r\n")
    return int(status_line.split()[1]), [line for line in headers if not line.startswith(b"Date:")], body


def test_the_compressed_wasm_is_served_under_its_own_name(export_folder):
    """Sent as stored with Content-Encoding gzip where the client accepts gzip, decompressed to any
    other client; both the bytes npm ships, with the WebAssembly type and a matching length."""
    shipped = vendored_bytes(WASM_PATH.removeprefix("/vendor/"))
    with served(export_folder) as port:
        for accept, encoded in (("gzip, deflate, br", True), ("br;q=1, gzip;q=0", False), (None, False)):
            header = f"Accept-Encoding: {accept}\r\n" if accept else ""
            status, headers, body = exchange(port, f"GET {WASM_PATH} HTTP/1.0\r\n{header}\r\n")
            assert status == 200 and b"Content-Type: application/wasm" in headers, accept
            assert f"Content-Length: {len(body)}".encode() in headers
            assert (b"Content-Encoding: gzip" in headers) == encoded
            assert (gzip.decompress(body) if encoded else body) == shipped
        assert exchange(port, f"GET {WASM_PATH}.gz.gz HTTP/1.0\r\n\r\n")[0] == 404


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("deflate, GZIP;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=x", False),
        ("identity, br", False),
    ],
)
def test_accept_encoding_is_read_with_its_q_values(header, allowed):
    from fashiongan.demo.server import accepts_gzip

    assert accepts_gzip(header) is allowed


def test_head_answers_as_get_without_a_body(export_folder):
    paths = ("/", "/spec.json", "/app.js", WASM_PATH, "/model/export/manifest.json", "/model/export/nothing")
    paths += ("/server.py",)
    with served(export_folder) as port:
        for path in paths:
            status, headers, body = exchange(port, f"GET {path} HTTP/1.0\r\n\r\n")
            assert exchange(port, f"HEAD {path} HTTP/1.0\r\n\r\n") == (status, headers, b""), path
            assert status == (404 if path.endswith(("nothing", ".py")) else 200) and body, path


def test_a_client_that_goes_away_early_leaves_stderr_quiet(export_folder, capfd, monkeypatch):
    """Reset mid-answer (the wasm, a TFLite file) and mid-request: no traceback, and no log line
    since access logging is off by default."""
    monkeypatch.delenv("FASHIONGAN_DEMO_LOG", raising=False)
    requests = (f"GET {WASM_PATH} HTTP/1.0\r\n\r\n", "GET /model/export/generator.tflite HTTP/1.0\r\n\r\n", "GET /")
    with served(export_folder) as port:
        for request in requests:
            with socket.socket() as client:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                client.connect(("127.0.0.1", port))
                client.sendall(request.encode())
                if request.endswith("\r\n"):
                    assert client.recv(16).startswith(b"HTTP/1.0 200")  # the answer has begun
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
    assert capfd.readouterr().err == ""


def test_an_idle_connection_is_closed(export_folder, monkeypatch):
    from fashiongan.demo import server

    monkeypatch.setattr(server, "IDLE_TIMEOUT_S", 0.5)
    with served(export_folder) as port, socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        started = time.monotonic()
        try:
            closed = client.recv(1) == b""
        except ConnectionResetError:
            closed = True
        except TimeoutError:
            closed = False
        assert closed and 0.4 <= time.monotonic() - started < 5


def test_links_out_of_an_export_are_not_served(export_folder, tmp_path):
    (tmp_path / "outside.txt").write_text("secret")
    (export_folder / "evil.txt").symlink_to(tmp_path / "outside.txt")
    (export_folder / "hostname").symlink_to("/etc/hostname")
    (export_folder / "up").symlink_to(tmp_path, target_is_directory=True)
    with served(export_folder) as port:
        assert exchange(port, "GET /model/export/manifest.json HTTP/1.0\r\n\r\n")[0] == 200
        for link in ("evil.txt", "hostname", "up/outside.txt"):
            status, _, body = exchange(port, f"GET /model/export/{link} HTTP/1.0\r\n\r\n")
            assert status == 404 and b"secret" not in body, link
