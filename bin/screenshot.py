#!/usr/bin/env python
"""Sign in to a running Audience and save a screenshot of one page (headless Debian chromium).

    .venv/bin/python bin/screenshot.py http://127.0.0.1:8000/people/ /tmp/people.png \
        [--user demo --password demo-password] [--width 1400 --height 900] [--full-page]
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--user", default="demo")
    parser.add_argument("--password", default="demo-password")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--full-page", action="store_true")
    args = parser.parse_args()
    parts = urlsplit(args.url)
    base = f"{parts.scheme}://{parts.netloc}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(f"{base}/login/")
        page.fill("#id_username", args.user)
        page.fill("#id_password", args.password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.goto(args.url)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)
        page.screenshot(path=args.out, full_page=args.full_page)
        browser.close()
    print(args.out)


if __name__ == "__main__":
    main()
