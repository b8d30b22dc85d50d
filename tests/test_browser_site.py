"""The course site (``make site``) in a real (headless) Chromium: every page loads, offline, with nothing broken.

The site is built from a smoke run: the executed copies ``make test`` leaves in build/test/test-executed/ when they
hold every notebook, else a smoke run's build/.../smoke/executed/ (``python -m utils.course --smoke`` is run first
when there is none, about 5 minutes on 2 cores). It is served by ``python -m http.server`` on 127.0.0.1 (a free
port), and EVERY page of it is opened at 1280×800. The test checks:

- no request for a local resource fails (HTTP 400 or more, or a failed load), and no page asks for anything
  outside the site (such requests are refused, and reported);
- every ``<img>`` has loaded (naturalWidth > 0), the inline data-URI figures included;
- every local ``<a href>`` points to a file of the site, and its #fragment to an id on that page;
- every external link is a well-formed http(s) URL (it is never fetched);
- no console error and no uncaught page error.

The server is stopped at the end, also when the test fails. A screenshot of the index is saved to
``build/browser/site_index.png`` (and one of notebook 03, which has math, to ``build/browser/site_03.png``). It needs
Debian's Chromium at /usr/bin/chromium (playwright drives it; no browser is downloaded); marker ``browser``:
``make test-site`` (= ``.venv/bin/python -m pytest -m browser tests/test_browser_site.py``).
"""

import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from utils.core.paths import NOTEBOOKS_DIR, REPO_ROOT, build_dir
from utils.course import site

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO_ROOT / "build" / "browser"
SMOKE_TIMEOUT = 20 * 60     # seconds for the smoke run, when one is needed
PAGE_JS = """() => ({
  images: [...document.images].map(img => ({src: img.getAttribute('src').slice(0, 80),
                                            ok: img.complete && img.naturalWidth > 0})),
  links: [...document.querySelectorAll('a[href]')].map(a => ({raw: a.getAttribute('href'), url: a.href})),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id)
         .concat([...document.querySelectorAll('a[name]')].map(a => a.getAttribute('name'))),
})"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def smoke_source() -> Path:
    """Executed smoke copies of every notebook: make test's, else a smoke run's (run now if there is none)."""
    notebooks = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    candidates = [build_dir() / "test-executed" / "notebooks", build_dir() / "smoke" / "executed",
                  REPO_ROOT / "build" / "smoke" / "executed"]
    for folder in candidates:
        if not site.missing_notebooks(folder, notebooks):
            return folder
    subprocess.run([sys.executable, "-m", "utils.course", "--smoke"], cwd=REPO_ROOT, timeout=SMOKE_TIMEOUT,
                   env={**os.environ, "CROSSROADS_BUILD_DIR": str(build_dir())}, check=False)
    missing = site.missing_notebooks(candidates[1], notebooks)
    assert not missing, f"the smoke run left no executed copy of {missing} in {candidates[1]}"
    return candidates[1]


@contextmanager
def serving(folder: Path):
    """``python -m http.server`` on 127.0.0.1 for ``folder``; stopped (then killed) on the way out, always."""
    port = free_port()
    log = (folder.parent / "site-server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(folder)], stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"http.server exited with {server.returncode}"
            try:
                with urllib.request.urlopen(url + "index.html", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "http.server did not answer within 30 s"
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()


def test_every_page_of_the_site_loads_offline_with_nothing_broken():
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium); no browser is downloaded")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e .[dev])")

    out = build_dir() / "site"
    started = time.perf_counter()
    site.build_site(smoke_source(), out)
    print(f"site built in {time.perf_counter() - started:.1f} s")
    pages = sorted(path.relative_to(out).as_posix() for path in out.rglob("*.html"))
    assert {"index.html", "00_environment_check.html", "lab_01_choosing.html", "report.html"} <= set(pages)

    failed, outside, errors, bad_images = [], [], [], []
    seen: dict[str, dict] = {}
    with serving(out) as base, playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(30_000)
            current = {"name": ""}

            def route(request_route):
                url = request_route.request.url
                if url.startswith((base, "data:")):
                    request_route.continue_()
                else:
                    outside.append(f"{current['name']}: {url[:120]}")
                    request_route.abort()

            page.route("**/*", route)
            page.on("response", lambda r: failed.append(f"{current['name']}: {r.status} {r.url}")
                    if r.url.startswith(base) and r.status >= 400 else None)
            page.on("requestfailed", lambda r: failed.append(f"{current['name']}: {r.failure} {r.url[:120]}")
                    if r.url.startswith(base) else None)
            page.on("console", lambda m: errors.append(f"{current['name']}: console {m.text[:200]}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"{current['name']}: page error {e}"))
            for name in pages:
                current["name"] = name
                response = page.goto(base + urllib.parse.quote(name), wait_until="load")
                assert response is not None and response.ok, f"{name}: {response and response.status}"
                page.evaluate("() => Promise.all([...document.images].map(i => i.decode().catch(() => null)))")
                seen[name] = page.evaluate(PAGE_JS)
                bad_images += [f"{name}: {image['src']}" for image in seen[name]["images"] if not image["ok"]]
                if name == "index.html":
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(SCREENSHOTS / "site_index.png"), full_page=True)
                elif name == "03_lora_finetuning.html":
                    page.screenshot(path=str(SCREENSHOTS / "site_03.png"))
        finally:
            browser.close()

    broken, malformed = [], []
    for name, found in seen.items():
        for link in found["links"]:
            parts = urllib.parse.urlsplit(link["url"])
            if link["url"].startswith(base):
                target = urllib.parse.unquote(parts.path.lstrip("/")) or "index.html"
                if target.endswith("/"):
                    target += "index.html"
                if not (out / target).is_file():
                    broken.append(f"{name}: {link['raw']} → {target} does not exist")
                elif parts.fragment:
                    ids = set(seen.get(target, {}).get("ids", []))
                    if parts.fragment not in ids and urllib.parse.unquote(parts.fragment) not in ids:
                        broken.append(f"{name}: {link['raw']} → no id {parts.fragment!r} on {target}")
            elif parts.scheme in ("http", "https"):
                if not parts.netloc or any(c.isspace() for c in link["raw"]):
                    malformed.append(f"{name}: {link['raw']}")
            elif parts.scheme not in ("mailto",):
                malformed.append(f"{name}: {link['raw']} (neither a page of the site nor an http(s) link)")
    print(f"{len(pages)} pages, {sum(len(f['images']) for f in seen.values())} images, "
          f"{sum(len(f['links']) for f in seen.values())} links checked")
    assert not failed, "local requests that failed:\n" + "\n".join(failed)
    assert not outside, "requests for something outside the site (the site must work offline):\n" + "\n".join(outside)
    assert not bad_images, "images that did not load:\n" + "\n".join(bad_images)
    assert not broken, "links to missing pages or anchors:\n" + "\n".join(broken)
    assert not malformed, "malformed links:\n" + "\n".join(malformed)
    assert not errors, "console errors:\n" + "\n".join(errors)
