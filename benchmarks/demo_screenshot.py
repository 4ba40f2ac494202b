"""Screenshot the demo page in Debian Chromium (headless, phone-sized) and print the generation
times it shows: docs/demo-page.png and the generation-time figure in docs/results.md.

    python benchmarks/demo_screenshot.py   # needs the test extra (playwright) and /usr/bin/chromium
"""

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_script, script_parser

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "demo-page.png"


def generate(page, class_value: str) -> str:
    page.select_option("#class", class_value)
    page.click("#generate")
    page.wait_for_function("document.body.dataset.state === 'generated'", timeout=60000)
    return page.inner_text("#status")


def main() -> None:
    script_parser(__file__, __doc__).parse_args()  # it takes no arguments
    from playwright.sync_api import sync_playwright

    server = subprocess.Popen(
        [sys.executable, "-m", "fashiongan", "demo", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        url = server.stdout.readline().split(" at ", 1)[1].split()[0]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page(viewport={"width": 390, "height": 760}, device_scale_factor=2)
            page.goto(url)
            page.wait_for_function("document.body.dataset.state === 'ready'", timeout=60000)
            page.fill("#seed", "42")
            for class_value in ("", "7", ""):  # every class, sneakers, every class again
                print(generate(page, class_value))
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            browser.close()
    finally:
        server.terminate()


if __name__ == "__main__":
    run_script(main, __file__)
