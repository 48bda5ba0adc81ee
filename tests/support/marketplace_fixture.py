"""A local second-hand marketplace for scraper tests: a real HTTP server on 127.0.0.1 with generated pages.

It serves listing pages (paginated), product pages, pictures drawn with OpenCV and a robots.txt,
plus the faults a real site shows: missing fields, malformed HTML, 429 with Retry-After, 500s, a
slow page (client timeout), an off-site redirect, a product listed on two pages, a disallowed
path, a product without picture, a removed product, an absolute link to another host, and a
script that would add a link if it were executed. ``python tests/support/marketplace_fixture.py --port 8765``
serves it for docs/examples/site-spec.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

EXAMPLE_SPEC = Path(__file__).resolve().parents[2] / "docs" / "examples" / "site-spec.json"
EXAMPLE_BASE = "http://127.0.0.1:8765"
PAGE_SIZE = 5

_COLOUR_BGR = {"bleu": (180, 90, 30), "marine": (90, 40, 20), "noir": (20, 20, 20), "gris": (128, 128, 128),
               "blanc": (240, 240, 240), "rouge": (40, 40, 200), "kaki": (60, 110, 110), "moutarde": (40, 170, 200),
               "beige": (170, 200, 220), "crème": (210, 235, 245), "rose": (190, 160, 240)}


@dataclass
class FixtureProduct:
    """One product of the fixture site and what a correct scrape of it gives."""

    product_id: str
    category: str
    title: str
    brand: str | None
    price_text: str
    price_amount: float
    gender: str
    type_word: str | None
    colours: list[str]
    size: str | None
    condition: str
    images: list[str]
    malformed: bool = False
    expected_type: str = ""
    expected_colours: list[str] = field(default_factory=list)
    expected_gender: list[str] = field(default_factory=list)


def build_catalogue(extra_per_category: int = 0) -> dict[str, list[FixtureProduct]]:
    """The fixture's products per category, deterministic; ``extra_per_category`` plain products added (ids 1000+)."""
    colour_words = ["bleu", "noir", "gris", "marine", "blanc", "rouge", "kaki", "beige", "crème", "rose", "moutarde"]
    mapped = {"bleu": "blue", "marine": "blue", "noir": "black", "gris": "grey", "blanc": "white", "rouge": "red",
              "beige": "beige", "crème": "beige", "rose": "pink"}
    brands = ["Zara", "Mango", "The Kooples", "Devred", "Sézane", None]
    prices = [("24,50 €", 24.5), ("50,00€", 50.0), ("34,99 €", 34.99), ("€ 1 234,00", 1234.0), ("12.50 EUR", 12.5)]
    catalogue: dict[str, list[FixtureProduct]] = {}
    for category, base, count, type_word, expected_type, gender, expected_gender in (
        ("robes", 100, 12, "robes", "dresses", "Femmes", "women"),
        ("costumes-and-blazers", 200, 8, None, "jackets/coats", "Hommes", "men"),
    ):
        products = []
        extra_base = base * 10 + 1000
        for pid in [base + i for i in range(1, count + 1)] + [extra_base + i for i in range(extra_per_category)]:
            colours = [colour_words[(pid * 3) % len(colour_words)], colour_words[(pid * 7 + 1) % len(colour_words)]]
            colours = list(dict.fromkeys(colours))
            price_text, amount = prices[pid % len(prices)]
            brand = brands[pid % len(brands)]
            n_images = 2 if pid % 2 == 0 else 1
            product = FixtureProduct(
                product_id=str(pid), category=category, title=f"{category.split('-')[0].title()} {brand or 'vintage'} n°{pid}",
                brand=brand, price_text=price_text, price_amount=amount, gender=gender,
                type_word=type_word if pid % 4 else (type_word.upper() if type_word else None),
                colours=colours, size=["S", "M", "L", "XL"][pid % 4], condition="Très bon état",
                images=[f"/img/{pid}-{k}.jpg" for k in range(1, n_images + 1)],
                expected_type=expected_type, expected_gender=[expected_gender],
            )
            products.append(product)
        catalogue[category] = products
    robes = {p.product_id: p for p in catalogue["robes"]}
    robes["105"].malformed = True
    missing = robes["106"]
    missing.brand, missing.size, missing.colours = None, None, []
    robes["110"].images = []  # a product without picture
    for products in catalogue.values():
        for product in products:
            product.expected_colours = list(dict.fromkeys(mapped[c] for c in product.colours if c in mapped))
    return catalogue


class Marketplace:
    """The fixture site, served on 127.0.0.1 on a free port. Use as a context manager.

    Attributes:
        hits: requests per path (with query), counted as they arrive.
        log: ``(path, status, user_agent, time)`` of every request, the time taken once it is answered.
        arrivals: ``(path, time)`` of every request as it arrives (``time.monotonic()``, before answering).
        broken_images: picture paths that answer 500 while listed here (tests may change it).
        faults: False turns off the 429, the 500s and the slow page (for benchmarks).
        refuse_prefix: while set, paths starting with it answer 503 (a site that keeps refusing); "/" refuses
            everything but robots.txt.
    """

    #: Product ids whose page answers 500 at the first request only (a retry succeeds).
    FLAKY_500 = "107"
    #: Product id whose page is slower than the client's timeout at the first request.
    SLOW = "108"
    #: Product id whose page always answers 500 (never stored, retried every run).
    ALWAYS_500 = "109"
    #: Product id without picture (visited, not stored).
    NO_IMAGE = "110"
    #: Product id listed on page 1 and page 2 of its category.
    TWICE_LISTED = "111"
    #: Product id whose page answers 404 (removed).
    GONE = "204"
    #: Link that redirects to another host (refused).
    OFFSITE_REDIRECT = "/item/9001"
    #: Link under the robots.txt-disallowed prefix.
    DISALLOWED = "/private/item/9002"
    #: Listing page that answers 429 with Retry-After at the first request.
    RATE_LIMITED_PAGE = "/catalog/robes?page=2"
    #: Prefix of same-site redirects: ``/moved/<path>`` answers 301 to ``/<path>`` (linked from nowhere).
    MOVED_PREFIX = "/moved/"

    def __init__(self, *, port: int = 0, crawl_delay: float | None = None, slow_s: float = 1.0,
                 retry_after_s: int = 1, image_size: tuple[int, int] = (96, 128), faults: bool = True,
                 extra_per_category: int = 0):
        self.port = port
        self.faults = faults
        self.catalogue = build_catalogue(extra_per_category)
        self.products = {p.product_id: p for ps in self.catalogue.values() for p in ps}
        self.crawl_delay = crawl_delay
        self.slow_s = slow_s
        self.retry_after_s = retry_after_s
        self.image_size = image_size
        self.hits: Counter = Counter()
        self.log: list[tuple[str, int, str, float]] = []
        self.arrivals: list[tuple[str, float]] = []
        self.broken_images: set[str] = set()
        self.refuse_prefix: str | None = None
        self._lock = threading.Lock()
        self._images: dict[str, bytes] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> Marketplace:
        handler = type("Handler", (_Handler,), {"market": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Marketplace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- what tests compare against ----------------------------------------------------------
    def site_spec(self, **politeness: float) -> dict:
        """docs/examples/site-spec.json pointed at this server, with ``politeness`` settings merged in."""
        spec = json.loads(EXAMPLE_SPEC.read_text(encoding="utf-8"))
        for category in spec["categories"]:
            category["start_urls"] = [u.replace(EXAMPLE_BASE, self.base_url) for u in category["start_urls"]]
        spec["politeness"] = {**spec.get("politeness", {}), **politeness}
        return copy.deepcopy(spec)

    def expected_stored(self, *, broken_images: bool = False) -> set[str]:
        """Ids a complete crawl stores: all products but the always-500, picture-less and removed ones."""
        excluded = {self.NO_IMAGE, self.GONE} | ({self.ALWAYS_500} if self.faults else set())
        ids = {pid for pid in self.products if pid not in excluded}
        if broken_images:
            ids -= {p.product_id for p in self.products.values() if set(p.images) & self.broken_images}
        return ids

    def requested_paths(self) -> list[str]:
        with self._lock:
            return [entry[0] for entry in self.log]

    # -- pages ---------------------------------------------------------------------------------
    def listing_pages(self, category: str) -> list[list[str]]:
        """Product link hrefs per listing page of ``category`` (faults included)."""
        products = self.catalogue[category]
        pages = [[f"/item/{p.product_id}-{_slug(p.title)}" for p in products[i:i + PAGE_SIZE]]
                 for i in range(0, len(products), PAGE_SIZE)]
        if category == "robes":
            pages[0].append(f"/item/{self.TWICE_LISTED}-{_slug(self.products[self.TWICE_LISTED].title)}")
            pages[0].append(self.OFFSITE_REDIRECT)
            pages[0].append("http://example.invalid/item/555")
        else:
            pages[0].append(self.DISALLOWED)
        return pages

    def robots_txt(self) -> str:
        lines = ["User-agent: *", "Disallow: /private/"]
        if self.crawl_delay is not None:
            lines.append(f"Crawl-delay: {self.crawl_delay}")
        return "\n".join(lines + ["", "User-agent: badbot", "Disallow: /", ""])

    def listing_html(self, category: str, page: int) -> str | None:
        pages = self.listing_pages(category)
        if not 1 <= page <= len(pages):
            return None
        items = "\n".join(f'<li class="item"><a class="item-link" href="{href}">{href}</a></li>' for href in pages[page - 1])
        nav = f'<a class="next" rel="next" href="/catalog/{category}?page={page + 1}">Suivant</a>' if page < len(pages) else ""
        return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{category} {page}</title></head><body>'
                f'<h1>{category}</h1><ul class="catalog">\n{items}\n</ul>'
                f'<script>document.write("<ul class=catalog><a class=item-link href=/item/666>x</a></ul>")</script>'
                f'<nav class="pagination">{nav}</nav></body></html>')

    def product_html(self, product: FixtureProduct) -> str:
        def dd(cls: str, value: str | None) -> str:
            return f'<dt>{cls}</dt><dd class="{cls}">{value}</dd>' if value else ""

        photos = "".join(f'<img class="photo" src="{src}" alt="photo">' for src in product.images)
        details = (dd("gender", product.gender) + dd("type", product.type_word)
                   + dd("colours", ", ".join(product.colours) if product.colours else None)
                   + dd("size", product.size) + dd("condition", product.condition))
        brand = f'<div class="brand">{product.brand}</div>' if product.brand else ""
        if product.malformed:
            # Unclosed and stray tags, unquoted attributes: lxml must still recover every field.
            return (f'<html><head><meta charset=utf-8><title>{product.title}</title><meta itemprop=priceCurrency content=EUR>'
                    f'<body><div class=product><h1 class=title>{product.title}</h1>{brand}</span>'
                    f'<div class=price>{product.price_text}<dl class=details>{details}<p>unclosed'
                    f'<div class=photos>{photos}</div></table></div>')
        return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{product.title}</title>'
                f'<meta itemprop="priceCurrency" content="EUR"></head><body><div class="product">'
                f'<h1 class="title">{product.title}</h1>{brand}<div class="price">{product.price_text}</div>'
                f'<dl class="details">{details}</dl><div class="photos">{photos}</div></div></body></html>')

    def image_bytes(self, path: str) -> bytes | None:
        with self._lock:
            cached = self._images.get(path)
        if cached is not None:
            return cached
        name = path.rsplit("/", 1)[-1].removesuffix(".jpg")
        pid, _, view = name.partition("-")
        product = self.products.get(pid)
        if product is None or path not in product.images:
            return None
        data = _draw_garment(product, int(view or 1), self.image_size)
        with self._lock:
            self._images[path] = data
        return data


class _Handler(BaseHTTPRequestHandler):
    market: Marketplace
    server_version = "FixtureMarket/1.0"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - silence the default stderr log
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        market = self.market
        arrived = time.monotonic()
        with market._lock:
            market.arrivals.append((self.path, arrived))
            market.hits[self.path] += 1
            hit = market.hits[self.path]
        status = self._route(market, hit)
        with market._lock:
            market.log.append((self.path, status, self.headers.get("User-Agent", ""), time.monotonic()))

    def _route(self, market: Marketplace, hit: int) -> int:
        parts = urlsplit(self.path)
        path = parts.path
        if path == "/robots.txt":
            return self._send(200, market.robots_txt().encode(), "text/plain")
        if market.refuse_prefix and path.startswith(market.refuse_prefix):
            return self._send(503, b"service unavailable", "text/plain")
        if path.startswith("/catalog/"):
            if market.faults and self.path == market.RATE_LIMITED_PAGE and hit == 1:
                return self._send(429, b"slow down", "text/plain", {"Retry-After": str(market.retry_after_s)})
            category = path.removeprefix("/catalog/")
            page = int(parse_qs(parts.query).get("page", ["1"])[0])
            html = market.listing_html(category, page) if category in market.catalogue else None
            return self._send(200, html.encode()) if html else self._send(404, b"no such page", "text/plain")
        if path.startswith(market.MOVED_PREFIX):
            target = "/" + self.path.removeprefix(market.MOVED_PREFIX)
            return self._send(301, b"", "text/plain", {"Location": target})
        if path == market.OFFSITE_REDIRECT:
            port = market._server.server_address[1]
            return self._send(302, b"", "text/plain", {"Location": f"http://localhost:{port}/item/101-elsewhere"})
        if path.startswith("/item/"):
            pid = path.removeprefix("/item/").split("-", 1)[0]
            product = market.products.get(pid)
            if product is None or pid == market.GONE:
                return self._send(404, b"this item was sold", "text/plain")
            if market.faults and (pid == market.ALWAYS_500 or (pid == market.FLAKY_500 and hit == 1)):
                return self._send(500, b"internal error", "text/plain")
            if market.faults and pid == market.SLOW and hit == 1:
                time.sleep(market.slow_s)
            return self._send(200, market.product_html(product).encode())
        if path.startswith("/img/"):
            if path in market.broken_images:
                return self._send(500, b"image server error", "text/plain")
            data = market.image_bytes(path)
            return self._send(200, data, "image/jpeg") if data else self._send(404, b"no image", "text/plain")
        return self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> int:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        return status


def _slug(title: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in title.lower()).split())


def _draw_garment(product: FixtureProduct, view: int, size: tuple[int, int]) -> bytes:
    """A consumer-style photo: a garment shape in the product's colour on a noisy background."""
    width, height = size
    rng = np.random.default_rng(int(product.product_id) * 10 + view)
    image = np.full((height, width, 3), 200, np.uint8)
    image = np.clip(image.astype(np.int16) + rng.integers(-25, 25, image.shape), 0, 255).astype(np.uint8)
    colour = _COLOUR_BGR.get(product.colours[0] if product.colours else "gris", (128, 128, 128))
    cx, top = width // 2 + int(rng.integers(-6, 6)), height // 6
    cv2.rectangle(image, (cx - width // 5, top), (cx + width // 5, height - height // 6), colour, -1)
    if product.category == "costumes-and-blazers":
        cv2.rectangle(image, (cx - width // 3, top), (cx - width // 5, top + height // 2), colour, -1)
        cv2.rectangle(image, (cx + width // 5, top), (cx + width // 3, top + height // 2), colour, -1)
    else:
        pts = np.array([[cx - width // 5, height // 2], [cx + width // 5, height // 2],
                        [cx + width // 3, height - height // 8], [cx - width // 3, height - height // 8]], np.int32)
        cv2.fillPoly(image, [pts], colour)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError("OpenCV could not encode the fixture picture")
    return encoded.tobytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--crawl-delay", type=float)
    args = parser.parse_args()
    market = Marketplace(port=args.port, crawl_delay=args.crawl_delay).start()
    print(f"serving the fixture marketplace on {market.base_url} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        market.stop()


if __name__ == "__main__":
    main()
