"""A small HTTP load client: signed-in GETs against gunicorn, one client or many threads at once."""

import http.client
import threading
import time


def get(host: str, port: int, path: str, cookie: str = "") -> tuple[int, float, int]:
    """One GET on a new connection (gunicorn's sync workers close it after each response): status, seconds, bytes."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=120)
    try:
        headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        return response.status, time.perf_counter() - started, len(body)
    finally:
        connection.close()


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of ``values`` (share in 0…1)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(int(round(share * len(ordered) + 0.5)) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


def single(host: str, port: int, pages: dict[str, tuple[str, str]], *, repeat: int = 5) -> dict[str, dict]:
    """Each page on its own: one warm-up GET, then ``repeat`` timed GETs; the median and every status."""
    results = {}
    for name, (path, cookie) in pages.items():
        get(host, port, path, cookie)
        runs = [get(host, port, path, cookie) for _index in range(repeat)]
        results[name] = {
            "path": path,
            "seconds": percentile([seconds for _status, seconds, _size in runs], 0.5),
            "statuses": sorted({status for status, _seconds, _size in runs}),
            "bytes": runs[-1][2],
        }
    return results


def concurrent(host: str, port: int, paths: list[str], cookie: str, *, clients: int, seconds: float) -> dict:
    """``clients`` threads each cycling through ``paths`` for ``seconds``: p50, p95, requests per second."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(offset: int) -> None:
        index = offset
        while time.perf_counter() < deadline:
            status, elapsed, _size = get(host, port, paths[index % len(paths)], cookie)
            index += 1
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(offset,)) for offset in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "wall_seconds": wall,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "requests_per_second": len(latencies) / wall if wall else 0.0,
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
    }
