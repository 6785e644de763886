/* gentext BYTES: deterministic, log-like text for the xz benchmark (the
 * same bytes on every machine): words from a fixed vocabulary, numbers and
 * punctuation drawn by a fixed-seed xorshift (xz -1 makes it about 3:1,
 * -6 about 4:1: the random numbers do not compress). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t state = 0x9e3779b97f4a7c15u;

static uint64_t next(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

static const char *const words[] = {
	"request", "served", "client", "error", "timeout", "cache", "miss", "hit", "user", "session",
	"opened", "closed", "from", "to", "the", "a", "in", "on", "with", "bytes", "ms", "ok",
	"GET", "POST", "/index.html", "/api/v1/items", "/static/app.js", "retry", "connection",
	"worker", "queue", "flushed", "written", "read", "page", "table", "index", "commit",
	"rollback", "lock", "wait", "granted", "denied", "alpha", "beta", "gamma", "delta",
	"kernel", "module", "loaded", "unloaded", "patch", "trace", "event", "buffer", "lost",
};

int main(int argc, char **argv)
{
	long long want = argc > 1 ? atoll(argv[1]) : 100000000LL, n = 0;
	const int nw = (int)(sizeof(words) / sizeof(words[0]));
	static char line[512];

	while (n < want) {
		int len = snprintf(line, sizeof(line), "2026-11-%02u %02u:%02u:%02u.%06u [%u] ",
				   (unsigned)(next() % 28 + 1), (unsigned)(next() % 24), (unsigned)(next() % 60),
				   (unsigned)(next() % 60), (unsigned)(next() % 1000000), (unsigned)(next() % 64));
		int k = 4 + (int)(next() % 12);

		for (int i = 0; i < k && len < 400; i++) {
			uint64_t r = next();

			if (r % 7 == 0)
				len += snprintf(line + len, sizeof(line) - (size_t)len, "%u ", (unsigned)(r >> 40) % 100000);
			else
				len += snprintf(line + len, sizeof(line) - (size_t)len, "%s ", words[(r >> 8) % (unsigned)nw]);
		}
		line[len - 1] = '\n';
		if (n + len > want)
			len = (int)(want - n);
		fwrite(line, 1, (size_t)len, stdout);
		n += len;
	}
	return 0;
}
