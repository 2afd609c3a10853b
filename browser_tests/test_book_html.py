"""The built book in a real browser: Debian's headless Chromium opens every chapter of `_build/html` offline.

Run by `make browser-test` (after the book is built from its stored outputs); not part of `pytest tests`.
Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: no port, no driver, no extra
package); the pages are served by a loopback http.server (127.0.0.1 only). Each chapter must load, every image must
decode, every maths element must be typeset by the local MathJax, no output cell may be an error, no request may leave
the machine or fail, no visible text may be a raw markdown table (`| a | b |`), no output (printed text, table,
image, verdict box) may be wider than the text column, and a full-page screenshot of each chapter is kept in
_build/screenshots/. Every internal link of every page must resolve to a built file, and its #fragment to an id in it
(checked on the HTML files, without the browser). What a reader sees is checked too: the page is no wider than the
1280 px window and (the API reference apart) at most MAX_PAGE_HEIGHT tall, no shown code line is wider than its
column, no page shows a path of the machine that built it or a word of the process that wrote it (PROCESS_WORDS), and
every figure of the stored chapters carries the marker of the library's layout check (LAYOUT_MARKER).

Environment: BOOK_HTML (default _build/html), BOOK_TOC (default _toc.yml), SCREENSHOTS (default _build/screenshots),
CHROMIUM (default /usr/bin/chromium, else `chromium` on PATH), BROWSER_TIMEOUT (seconds per page, default 60).
"""
import base64
import fcntl
import functools
import http.server
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
TOC = Path(os.environ.get("BOOK_TOC", ROOT / "_toc.yml"))
SHOTS = Path(os.environ.get("SCREENSHOTS", ROOT / "_build" / "screenshots"))
TIMEOUT = float(os.environ.get("BROWSER_TIMEOUT", 60))  # seconds for one page to load, typeset and settle
WIDTH, HEIGHT = 1280, 900
MAX_SHOT_HEIGHT = 16000  # keeps a screenshot's PNG a few MB; longer pages are cut there
MAX_PAGE_HEIGHT = int(os.environ.get("MAX_PAGE_HEIGHT", 12000))  # px at 1280 px wide: a chapter reads as an argument
TALL_PAGES = {"book/api"}  # the API reference: a reference list, not read top to bottom
BOOK = ROOT / "book"

# Text no reader should meet: paths of the machine that built the book, and words of the process that wrote it.
BUILDER_PATHS = re.compile(r"/work/|/home/|/root/|/tmp/|PosixPath\(|WindowsPath\(")
PROCESS_WORDS = re.compile(r"\b(this|next|last|previous) round\b|\bround's\b|\bthe network issue\b|\bissue's\b|"
                           r"\bthis issue\b|\bsessions?\b|\bhelpers?\b|\bthe goal's\b|\bfor the goal\b|"
                           r"\bthe lead\b|\bthe brief\b|\bissue \d+\b|\(issue\b", re.I)
# What gitscore.report's layout check leaves on every figure it passed: a PNG text chunk named LAYOUT_MARKER (or the
# name in the glued output's metadata).
try:
    from gitscore.report import LAYOUT_MARKER
except ImportError:  # the browser test needs no library; the name the library uses
    LAYOUT_MARKER = "gitscore-layout"
LAYOUT_MARKER = os.environ.get("LAYOUT_MARKER", LAYOUT_MARKER)

# Console errors of the toolchain, not of the book: Sphinx 7.4's html builder re-adds inline scripts registered after
# Builder.init() (filename None vs ''), so sphinx-thebe's `const THEBE_JS_URL = ...` is declared twice on every page.
KNOWN_CONSOLE_ERRORS = ["Identifier 'THEBE_JS_URL' has already been declared"]

# Traces of an output cell that raised (myst-nb's traceback container, nbformat's error fields).
ERROR_MARKERS = ["Traceback (most recent call last)", 'class="output traceback', "output_error", '"ename"']


def toc_pages(toc_path=TOC):
    """Every document of the table of contents, root first, as paths without suffix (e.g. 'book/01_ode')."""
    toc = yaml.safe_load(Path(toc_path).read_text())
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [re.sub(r"\.(md|ipynb|py|rst)$", "", p) for p in pages]


PAGES = toc_pages()


# --- Chrome DevTools protocol over --remote-debugging-pipe: NUL-separated JSON on fds 3 (in) and 4 (out).

def _renumber(fd):
    """The same pipe end numbered 10 or more, so that moving it to fd 3 or 4 cannot overwrite its partner."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Chromium:
    """A headless Chromium with one page, driven over the DevTools pipe."""

    def __init__(self, binary, log_path):
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        fd_in, self._to_chrome = os.pipe()
        self._from_chrome, fd_out = os.pipe()
        fd_in, fd_out = _renumber(fd_in), _renumber(fd_out)
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--disable-default-apps", "--hide-scrollbars", "--mute-audio",
                 f"--window-size={WIDTH},{HEIGHT}", f"--user-data-dir={self.profile}",
                 "--remote-debugging-pipe", "about:blank"]
        self._log = open(log_path, "wb")
        # Chromium reads commands on fd 3 and writes replies on fd 4: bash moves the pipe ends there.
        move = f'exec "$@" 3<&{fd_in} 4>&{fd_out} {fd_in}<&- {fd_out}>&-'
        self.proc = subprocess.Popen(["bash", "-c", move, "bash", binary, *flags], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, pass_fds=(fd_in, fd_out))
        os.close(fd_in)
        os.close(fd_out)
        self._buf, self._next_id, self.events, self.session = b"", 0, [], None

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed the DevTools pipe (exit code {self.proc.poll()})")
            self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, timeout=TIMEOUT, session=True, **params):
        """Send one command (to the page's session unless session=False) and return its result."""
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_event(self, method, timeout=TIMEOUT):
        """Wait for the first event named method (events already received count)."""
        deadline = time.monotonic() + timeout
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read_message(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)

    def evaluate(self, expression, timeout=TIMEOUT):
        """The JSON value of a JavaScript expression (promises are awaited)."""
        result = self.send("Runtime.evaluate", timeout=timeout, expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open_page(self):
        target = self.send("Target.createTarget", session=False, url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", session=False, targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def find_chromium():
    binary = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(binary).exists():
        pytest.fail(f"Chromium not found at {binary}: `apt-get install chromium` (make browser-test does it as root)")
    return binary


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        # the browser's own guess, not the book's
        if self.path == "/favicon.ico" and not (HTML / "favicon.ico").exists():
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    """The built HTML on a loopback-only http server."""
    if not (HTML / "index.html").is_file():
        pytest.fail(f"{HTML}/index.html not found: build the book first (make book-stored)")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(HTML)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    chrome = Chromium(find_chromium(), SHOTS / "chromium.log")
    try:
        chrome.send("Browser.getVersion", session=False, timeout=60)
        chrome.open_page()
        yield chrome
    finally:
        chrome.close()


# Run in the page once it has loaded: let lazy images load, wait for them and for MathJax, then report.
INSPECT = """(async () => {
  // Visible text outside code inputs: lines that look like a markdown table (`| a | b |`, `|---|`).
  const rawPipes = () => {
    const main = document.querySelector('main') || document.body || document.documentElement;
    if (!main) { return ['(no document to inspect)']; }
    const hidden = [...main.querySelectorAll('.cell_input, div[class*="highlight-python"], ' +
                                             'div[class*="highlight-ipython"], mjx-container, .math')];
    const shown = hidden.map(e => e.style.display);
    hidden.forEach(e => { e.style.display = 'none'; });
    const lines = main.innerText.split('\\n').map(l => l.trim());  // rendered text, one line per block
    hidden.forEach((e, i) => { e.style.display = shown[i]; });
    return lines.filter(l => /^\\|.*\\|$/.test(l) || /\\|\\s*:?-{3,}:?\\s*\\|/.test(l)).slice(0, 5);
  };
  // Output elements wider than their column: content scrolls inside them, or they stick out of the article.
  const overflowing = () => {
    const column = document.querySelector('article.bd-article') || document.querySelector('main');
    const right = column ? column.getBoundingClientRect().right : window.innerWidth;
    const sel = '.cell_output pre, .cell_output table, .cell_output .output, .cell_output img, figure img, .gs-verdict';
    return [...document.querySelectorAll(sel)]
      .filter(e => e.offsetParent !== null && !e.closest('details:not([open])'))
      .filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > right + 1)
      .map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}: scrollWidth ${e.scrollWidth} > ` +
                `clientWidth ${e.clientWidth} or right edge ` +
                `${Math.round(e.getBoundingClientRect().right)} > ${Math.round(right)}: ` +
                (e.innerText || e.getAttribute('src') || '').slice(0, 60).replace(/\\s+/g, ' '))
      .slice(0, 5);
  };
  // Printed output whose lines the browser must fold again (pre-wrap): a folded line broken a second time.
  const rewrapped = () => [...document.querySelectorAll('.cell_output pre')]
    .filter(e => e.offsetParent !== null && !e.closest('details:not([open])'))  // folded output is not shown
    .filter(e => {
      const before = e.style.whiteSpace;
      e.style.whiteSpace = 'pre';
      const wide = e.scrollWidth > e.clientWidth + 1;
      e.style.whiteSpace = before;
      return wide;
    })
    .map(e => `pre: a line wider than ${e.clientWidth} px: ` + (e.innerText || '').split('\\n')
      .reduce((a, l) => l.length > a.length ? l : a, '').slice(0, 60))
    .slice(0, 5);
  // Shown code (not folded away by hide-input) whose lines are wider than the column: the reader must scroll.
  const wideCode = () => [...document.querySelectorAll('.cell_input pre, div[class*="highlight-python"] pre, ' +
                                                        'div[class*="highlight-ipython"] pre')]
    .filter(e => e.offsetParent !== null && !e.closest('details:not([open])'))  // folded code is not shown
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => `code ${e.scrollWidth} px in ${e.clientWidth} px: ` + (e.innerText || '').split('\\n')
      .reduce((a, l) => l.length > a.length ? l : a, '').slice(0, 60))
    .slice(0, 5);
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) { await mj.startup.promise; }
  const maths = [...document.querySelectorAll('.math')];
  return {
    title: document.title,
    mathjax: !!(mj && mj.version), mathjax_version: (mj && mj.version) || null,
    maths: maths.length,
    untypeset: maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 80)),
    merrors: [...document.querySelectorAll('[data-mml-node="merror"], mjx-merror')]
      .map(e => e.getAttribute('data-mjx-error') || e.textContent),
    images: imgs.length,
    broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src')),
    figures: document.querySelectorAll('.cell_output img, figure img').length,
    height: Math.ceil(document.documentElement.scrollHeight),
    pipes: rawPipes(),
    overflow: overflowing(),
    rewrapped: rewrapped(),
    wide_code: wideCode(),
    page_width: Math.ceil(document.documentElement.scrollWidth), window_width: window.innerWidth,
  };
})()"""


def visit(chrome, url):
    """Load url, wait for images and maths, return the page report plus its requests and console errors."""
    chrome.events.clear()
    chrome.send("Page.navigate", url=url)
    chrome.wait_event("Page.loadEventFired")
    report = chrome.evaluate(INSPECT)
    time.sleep(0.2)  # let late console messages arrive
    chrome.evaluate("1")
    requested, failed, console = {}, [], []
    for event in chrome.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            requested[params["requestId"]] = params["request"]["url"]
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            failed.append(f"{params['response']['status']} {params['response']['url']}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{params.get('errorText')} {requested.get(params['requestId'], '?')}")
        elif method == "Runtime.exceptionThrown":
            console.append(params["exceptionDetails"].get("exception", {}).get("description")
                           or params["exceptionDetails"].get("text"))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            console.append(f"{params['entry']['text']} {params['entry'].get('url', '')}")
    report["requests"] = sorted(set(requested.values()))
    report["failed"] = failed
    report["console_errors"] = [c for c in console if not any(k in (c or "") for k in KNOWN_CONSOLE_ERRORS)]
    return report


def screenshot(chrome, path, height):
    """A full-page PNG of the current page (cut at MAX_SHOT_HEIGHT): the viewport is made as tall as the page."""
    height = min(max(height, HEIGHT), MAX_SHOT_HEIGHT)
    chrome.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=height, deviceScaleFactor=1, mobile=False)
    try:
        chrome.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        data = chrome.send("Page.captureScreenshot", format="png")["data"]
    finally:
        chrome.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1,
                    mobile=False)
    path.write_bytes(base64.b64decode(data))
    return path


def local(url):
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == "127.0.0.1"


# --- Tests

def test_toc_pages_built():
    """Every page of _toc.yml was built."""
    missing = [p for p in PAGES if not (HTML / f"{p}.html").is_file()]
    assert not missing, f"pages of {TOC.name} missing from {HTML}: {missing}"
    index = (HTML / "index.html").read_text(encoding="utf-8")
    assert f"{PAGES[0]}.html" in index, "index.html does not lead to the root page"


@pytest.mark.parametrize("page", PAGES)
def test_no_error_cells(page):
    """No output cell of the built page is an error (a traceback, or nbformat's error output)."""
    path = HTML / f"{page}.html"
    if not path.is_file():
        pytest.fail(f"{path} not built")
    text = path.read_text(encoding="utf-8")
    found = [m for m in ERROR_MARKERS if m in text]
    assert not found, f"{page}: error output in the HTML ({found})"


class _Links(HTMLParser):
    """The href of every <a> and every id of a page."""

    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


@functools.lru_cache(maxsize=None)
def _parse(path):
    parser = _Links()
    parser.feed(Path(path).read_text(encoding="utf-8"))
    return parser


def internal_link_problems(page_path, html_root=HTML):
    """Internal links of a built page that do not resolve to a file (or to an id in it) under html_root."""
    problems = []
    for href in sorted(set(_parse(page_path).hrefs)):
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
            continue
        target = (Path(page_path).parent / unquote(parts.path)).resolve() if parts.path else Path(page_path)
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file() or not target.is_relative_to(Path(html_root).resolve()):
            problems.append(f"{href}: no file {target}")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _parse(target).ids:
            problems.append(f"{href}: no id {parts.fragment!r} in {target.name}")
    return problems


@pytest.mark.parametrize("page", PAGES)
def test_internal_links_resolve(page):
    """Every relative link of the page leads to a built file, and every #fragment to an id in it."""
    path = HTML / f"{page}.html"
    if not path.is_file():
        pytest.fail(f"{path} not built")
    problems = internal_link_problems(path)
    assert not problems, f"{page}: dead internal links:\n  " + "\n  ".join(problems[:20])


def test_link_checker_finds_dead_links(tmp_path):
    """The checker itself: a missing file, a missing id and a good link."""
    (tmp_path / "a.html").write_text('<p id="x"><a href="b.html#y">1</a><a href="c">2</a><a href="#x">3</a>'
                                     '<a href="https://example.org/z">4</a></p>')
    (tmp_path / "b.html").write_text('<p id="z"></p>')
    assert internal_link_problems(tmp_path / "a.html", tmp_path) == [
        "b.html#y: no id 'y' in b.html", f"c: no file {tmp_path / 'c'}"]


def test_mathjax_is_local():
    """The pages load MathJax from the book's own _static folder, never from a CDN."""
    text = (HTML / f"{PAGES[0]}.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', text, flags=re.I)
    assert scripts, "no MathJax script tag"
    assert all(s.startswith("_static/") or "/_static/" in s for s in scripts), scripts
    assert all("://" not in s for s in scripts), f"MathJax from the network: {scripts}"
    for src in scripts:
        assert (HTML / f"{PAGES[0]}.html").parent.joinpath(src.split("?")[0]).resolve().is_file(), src


@pytest.mark.parametrize("page", PAGES)
def test_page_in_chromium(page, server, browser):
    """The page loads offline, its images decode, its maths is typeset; a screenshot is kept."""
    report = visit(browser, f"{server}/{page}.html")
    shot = screenshot(browser, SHOTS / (page.replace("/", "__") + ".png"), report["height"])
    summary = {k: report[k] for k in ("title", "mathjax_version", "maths", "images", "figures", "height")}
    print(f"{page}: {summary} -> {shot.relative_to(ROOT) if shot.is_relative_to(ROOT) else shot}")

    problems = []
    if not report["title"] or "Error response" in report["title"]:  # http.server's error page
        problems.append(f"title {report['title']!r}")
    if report["broken"]:
        problems.append(f"images that did not load: {report['broken']}")
    if report["maths"] and not report["mathjax"]:
        problems.append(f"{report['maths']} maths elements but MathJax did not load")
    if report["untypeset"]:
        problems.append(f"maths not typeset: {report['untypeset'][:5]}")
    if report["merrors"]:
        problems.append(f"TeX errors: {report['merrors'][:5]}")
    offsite = [u for u in report["requests"] if not local(u)]
    if offsite:
        problems.append(f"requests leaving the machine: {offsite}")
    if report["failed"]:
        problems.append(f"failed requests: {report['failed']}")
    if report["console_errors"]:
        problems.append(f"JavaScript errors: {report['console_errors'][:5]}")
    if report["pipes"]:
        problems.append(f"raw markdown table text (not rendered as a table): {report['pipes']}")
    if report["overflow"]:
        problems.append(f"output wider than its column (cut off or scrolling): {report['overflow']}")
    if report["rewrapped"]:
        problems.append(f"printed lines the page folds again (shorten them or the output font): {report['rewrapped']}")
    if report["wide_code"]:
        problems.append(f"shown code wider than its column (fold the lines or hide the cell): {report['wide_code']}")
    if report["page_width"] > report["window_width"]:
        problems.append(f"page {report['page_width']} px wide in a {report['window_width']} px window")
    if page not in TALL_PAGES and report["height"] > MAX_PAGE_HEIGHT:
        problems.append(f"page {report['height']} px tall at {WIDTH} px (at most {MAX_PAGE_HEIGHT}): hide cells that "
                        "only compute or format, move computation into the library")
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)
    assert shot.stat().st_size > 1000


def test_inspector_catches_pipes_and_overflow(tmp_path, browser):
    """The page checks are not vacuous: a raw markdown table and an output wider than its column are reported."""
    (tmp_path / "bad.html").write_text(
        '<html><head><title>t</title></head><body><main><article class="bd-article" style="width:400px">'
        '<p>| claim | paper |<br>|---|---|<br>| a | b |</p>'
        '<div class="cell_output"><pre style="overflow:auto">' + "x" * 300 + "</pre></div>"
        '<div class="cell_output"><pre style="white-space:pre-wrap">' + "y " * 150 + "</pre></div>"
        '<div class="cell_input"><pre>| not | checked |</pre></div>'
        "</article></main></body></html>")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(QuietHandler, directory=str(tmp_path)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        report = visit(browser, f"http://127.0.0.1:{httpd.server_address[1]}/bad.html")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert "| claim | paper |" in report["pipes"] and "|---|---|" in report["pipes"]
    assert "| not | checked |" not in report["pipes"]
    assert report["overflow"] and report["overflow"][0].startswith("pre")
    assert len(report["rewrapped"]) == 2  # both: the scrolling one and the one the browser folds again


# --- What a reader must not see, and the figures' layout check (on the HTML and the stored notebooks, no browser)

class _Text(HTMLParser):
    """The text of a page outside <script> and <style>."""

    def __init__(self):
        super().__init__()
        self.skip, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def page_text(path) -> str:
    parser = _Text()
    parser.feed(Path(path).read_text(encoding="utf-8"))
    return " ".join(parser.parts)


def forbidden_text(text: str) -> list[str]:
    """Builder paths and process words in a page's text, each with a little context."""
    found = []
    for pattern in (BUILDER_PATHS, PROCESS_WORDS):
        for m in pattern.finditer(text):
            found.append(text[max(0, m.start() - 30):m.end() + 30].replace("\n", " "))
    return found


@pytest.mark.parametrize("page", PAGES)
def test_no_builder_paths_or_process_words(page):
    """No page shows a path of the machine that built it, or a word of the process that wrote it."""
    path = HTML / f"{page}.html"
    if not path.is_file():
        pytest.fail(f"{path} not built")
    found = forbidden_text(page_text(path))
    assert not found, f"{page}: " + " | ".join(found[:10])


def test_forbidden_text_is_found():
    """The text checks are not vacuous."""
    assert forbidden_text("results = PosixPath('/work/main/results')")
    assert forbidden_text("this round's CPU time") and forbidden_text("the network issue's target")
    assert forbidden_text("for the goal, 0.9") and forbidden_text("a helper wrote it")
    assert not forbidden_text("float32 round-off, rounded to 3 digits; the goal of an FD of 10")
    assert page_text_of("<p>a</p><script>var x = '/work/'</script>") == "a"


def page_text_of(html_text: str) -> str:
    parser = _Text()
    parser.feed(html_text)
    return " ".join(parser.parts)


def _png_text_chunks(data: bytes) -> str:
    """The keywords and values of a PNG's tEXt / iTXt / zTXt chunks, as one string."""
    import struct
    import zlib
    out, pos = [], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind in (b"tEXt", b"iTXt"):
            out.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            out.append(key.decode("latin-1") + " " + zlib.decompress(rest[1:]).decode("latin-1"))
        pos += 12 + length
    return " ".join(out)


def unchecked_figures(nb_path, marker=LAYOUT_MARKER) -> list[str]:
    """The figures (PNG outputs, glued or shown) of a stored notebook that carry no mark of the layout check: the
    marker must be in the output's metadata or in the PNG's text chunks."""
    nb = json.loads(Path(nb_path).read_text(encoding="utf-8"))
    missing = []
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            pngs = [v for k, v in out.get("data", {}).items() if k.endswith("image/png")]
            if not pngs:
                continue
            name = out.get("metadata", {}).get("scrapbook", {}).get("name", f"cell {i}")
            meta = json.dumps(out.get("metadata", {}))
            png = base64.b64decode("".join(pngs[0]) if isinstance(pngs[0], list) else pngs[0])
            if marker not in meta and marker not in _png_text_chunks(png):
                missing.append(name)
    return missing


CHAPTER_NOTEBOOKS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("nb", CHAPTER_NOTEBOOKS, ids=[p.stem for p in CHAPTER_NOTEBOOKS])
def test_every_figure_passed_the_layout_check(nb):
    """Every figure the chapter stores went through the library's layout check (no overlapping text, nothing off
    the canvas, no legend over data), which marks the figures it passes."""
    missing = unchecked_figures(nb)
    assert not missing, f"{nb.name}: figures without the layout check's marker {LAYOUT_MARKER!r}: {missing}"


def test_layout_marker_check_reads_metadata_and_png_chunks(tmp_path):
    """The marker is found in an output's metadata or in a PNG text chunk, and its absence is reported."""
    import struct
    import zlib

    def png(text=b""):
        def chunk(kind, body):
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
        extra = chunk(b"tEXt", text) if text else b""
        return base64.b64encode(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
                                chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b"")).decode()

    def output(name, data, meta=None):
        return {"output_type": "display_data", "data": data,
                "metadata": {"scrapbook": {"name": name}, **(meta or {})}}
    nb = {"cells": [{"cell_type": "code", "outputs": [
        output("plain", {"image/png": png()}),
        output("in-meta", {"application/papermill.record/image/png": png()}, {"layout": "M passed"}),
        output("in-png", {"image/png": png(b"Layout\0M passed")})]}]}
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb))
    assert unchecked_figures(path, marker="M") == ["plain"]
