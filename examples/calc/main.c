/* calc: runs a set of small programs on 4 threads, each thread with its
 * own machine and key-value store, and prints their checksums in a fixed
 * order: deterministic output whatever the scheduling.
 *   calc [THREADS] [SCALE] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc.h"

static const char *const programs[] = {
	/* primes below N, their count kept in the store */
	"let n = 200 * SCALE; let i = 2; let c = 0;\n"
	"while (i < n) { if (isprime(i)) { c = c + 1; put(\"primes\", c); } i = i + 1; }\n"
	"print get(\"primes\");",
	/* Collatz lengths and their maximum */
	"let i = 1; let best = 0; let at = 0;\n"
	"while (i < 150 * SCALE) { let l = collatz(i); if (l > best) { best = l; at = i; } i = i + 1; }\n"
	"print best; print at;",
	/* gcd/lcm table and digit sums */
	"let a = 1; let s = 0;\n"
	"while (a < 60 * SCALE) { let b = 1; while (b < 20) { s = s + gcd(a, b) + lcm(a, b) % 97; b = b + 1; } a = a + 1; }\n"
	"print s; print digitsum(s); print reverse(s);",
	/* modular powers and square roots */
	"let i = 1; let acc = 0;\n"
	"while (i < 300 * SCALE) { acc = acc ^ powmod(i, 65537, 1000000007) + isqrt(i * i + i); i = i + 1; }\n"
	"print acc; print popcount(acc);",
	/* number theory and bit tricks */
	"let i = 1; let s = 0;\n"
	"while (i < 80 * SCALE) { s = mix(s, phi(i) + ndiv(i) + sigma(i) % 13 + issquare(i) + ispal(i) + mobius(i));\n"
	"  s = mix(s, ilog2(i) + nextpow2(i) % 7 + bitrev(i) % 11 + ctz(i) + clz(i) % 5 + parity(i) + digits(i));\n"
	"  s = mix(s, rotl(i, 3) % 17 + rotr(i, 5) % 19 + triangular(i % 50) + catalan(i % 12) + factorial(i % 10));\n"
	"  s = mix(s, lucas(i % 40) % 23 + tribonacci(i % 30) % 29 + modinv(i, 101) + crt2(i, i + 3, 5));\n"
	"  s = mix(s, bits(i, 2) + setbit(i, 4) + clearbit(i, 1) + avg(i, s % 100) + dist(i, 40) + sqr(i % 9) + cube(i % 5));\n"
	"  i = i + 1; }\n"
	"print s;",
	/* Fibonacci, binomials, hashes through the store */
	"let i = 0; let h = 0;\n"
	"while (i < 40 * SCALE) { put(\"f\", fib(i % 60)); h = hash(h + get(\"f\") + binom(i % 30, i % 7)); i = i + 1; }\n"
	"print h; print clamp(h, 0, 1000); print sign(h - 5) + abs(-h) % 7 + min(h, 3) + max(h, 4) % 5;",
};

#define NPROG (sizeof(programs) / sizeof(programs[0]))

struct job {
	int id, scale;
	uint64_t sums[NPROG];
	int64_t printed[256];
	int nprinted, folded;
	uint64_t listing;
	long steps;
	int failed;
};

static char *with_scale(const char *src, int scale)
{
	char *out = malloc(strlen(src) * 2 + 16), *o = out;

	for (const char *p = src; *p;) {
		if (!strncmp(p, "SCALE", 5)) {
			o += sprintf(o, "%d", scale);
			p += 5;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

static void *run(void *arg)
{
	struct job *j = arg;

	for (size_t i = 0; i < NPROG; i++) {
		struct program p;
		struct vm vm = { 0 };
		char *src = with_scale(programs[(i + (size_t)j->id) % NPROG], j->scale);

		vm.kv = kv_create(16);
		if (compile(src, &p) < 0) {
			fprintf(stderr, "calc: program %zu: %s\n", i, p.error);
			j->failed = 1;
		} else if ((j->folded += program_optimize(&p), j->listing ^= program_listing_hash(&p)),
			   vm_run(&vm, &p, 50000000) < 0) {
			j->failed = 1;
		}
		j->sums[(i + (size_t)j->id) % NPROG] = vm.checksum;
		for (int k = 0; k < vm.nprinted && j->nprinted < 256; k++)
			j->printed[j->nprinted++] = vm.printed[k];
		j->steps += vm.steps;
		kv_destroy(vm.kv);
		program_free(&p);
		free(src);
	}
	return NULL;
}

/* The values printed, summarised and spelt out (every thread printed the
 * same ones; their order differs, the sorted summary does not). */
static int report(const struct job *j)
{
	struct stats st;
	char words[256], roman[32], hex[32], grouped[32];
	uint64_t h = 0;

	if (stats_summary(j->printed, (size_t)j->nprinted, &st) < 0)
		return -1;
	for (int i = 0; i < j->nprinted; i++) {
		fmt_words(words, sizeof(words), j->printed[i] % 1000000);
		h ^= fmt_hash(words);
	}
	fmt_words(words, sizeof(words), st.median % 1000000);
	fmt_roman(roman, sizeof(roman), (int64_t)(st.n * 97));
	fmt_base(hex, sizeof(hex), (uint64_t)st.max, 16);
	fmt_grouped(grouped, sizeof(grouped), st.mean);
	printf("%zu values: median %lld (%s), max 0x%s, mean %s, %s values x 97, words hash %016llx\n", st.n,
	       (long long)st.median, words, hex, grouped, roman, (unsigned long long)h);
	printf("%d constant operations folded, listings hash %016llx\n", j->folded, (unsigned long long)j->listing);
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 4, scale = argc > 2 ? atoi(argv[2]) : 1;
	pthread_t th[16];
	struct job jobs[16];
	int failed = 0;

	if (n < 1 || n > 16 || scale < 1) {
		fprintf(stderr, "usage: calc [THREADS 1-16] [SCALE >= 1]\n");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		jobs[i] = (struct job){ .id = i, .scale = scale };
		pthread_create(&th[i], NULL, run, &jobs[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		failed |= jobs[i].failed;
	}
	for (size_t p = 0; p < NPROG; p++)
		printf("program %zu: checksum %016llx\n", p, (unsigned long long)jobs[0].sums[p]);
	for (int i = 1; i < n; i++)
		for (size_t p = 0; p < NPROG; p++)
			if (jobs[i].sums[p] != jobs[0].sums[p])
				failed = printf("thread %d disagrees on program %zu\n", i, p) > 0;
	printf("%d threads agree, %ld machine steps each\n", n, jobs[0].steps);
	return report(&jobs[0]) < 0 || failed;
}
