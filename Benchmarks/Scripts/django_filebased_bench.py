# Django FileBasedCache on this machine, for comparison with FileCache (docs/PERFORMANCE.md).
# Run with a Python that has Django: python3 Benchmarks/Scripts/django_filebased_bench.py
import time, tempfile, shutil, sys
import django
from django.conf import settings
d = tempfile.mkdtemp(prefix="djcache-bench-", dir="/tmp")
settings.configure(CACHES={"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": d}})
django.setup()
from django.core.cache import cache
value = "a cached value of about a hundred bytes, like a small rendered fragment or a session blob.."
def rate(fn, seconds=1.0):
    n = 0; t = time.perf_counter()
    while True:
        for _ in range(20): fn(n); n += 1
        e = time.perf_counter() - t
        if e > seconds: return n / e
cache.set("key7", value, None)
for rnd in range(3):
    g = rate(lambda i: cache.get("key7"))
    s_same = rate(lambda i: cache.set("key8", value, None))
    s_new = rate(lambda i: cache.set("new%d" % (i + rnd * 10**6), value, None))
    print(f"round {rnd}: get-hit {g:,.0f}/s  set same key {s_same:,.0f}/s  set new keys (MAX_ENTRIES 300) {s_new:,.0f}/s")
shutil.rmtree(d)
print("django", django.get_version(), "python", sys.version.split()[0])
