/* kvserver: a small key-value server over TCP on 127.0.0.1, on libkv, for
 * the "trace a running server" walk-through (poketrace attach).
 *   kvserver serve PORT               one thread per connection, until killed
 *   kvserver load PORT CLIENTS REQS   CLIENTS connections of REQS requests;
 *                                     checks every answer, exits 1 on a wrong one
 * Protocol, one line each way: "put KEY VALUE" -> "ok", "get KEY" -> VALUE or
 * "none", "del KEY" -> "ok" or "none". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kv.h"

static struct kv *store;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void answer(const char *req, char *out, size_t cap)
{
	char key[64];
	unsigned long long v = 0;
	uint64_t got;

	pthread_mutex_lock(&lock);
	if (sscanf(req, "put %63s %llu", key, &v) == 2)
		snprintf(out, cap, kv_put(store, key, v) == 0 ? "ok\n" : "error\n");
	else if (sscanf(req, "get %63s", key) == 1)
		if (kv_get(store, key, &got) == 0)
			snprintf(out, cap, "%llu\n", (unsigned long long)got);
		else
			snprintf(out, cap, "none\n");
	else if (sscanf(req, "del %63s", key) == 1)
		snprintf(out, cap, kv_del(store, key) == 0 ? "ok\n" : "none\n");
	else
		snprintf(out, cap, "error\n");
	pthread_mutex_unlock(&lock);
}

static void *connection(void *arg)
{
	int fd = (int)(intptr_t)arg;
	/* one stream each way: a stdio stream cannot switch between reading
	 * and writing on a socket */
	FILE *in = fdopen(fd, "r"), *out = fdopen(dup(fd), "w");
	char line[256], ans[64];

	while (in && out && fgets(line, sizeof(line), in)) {
		answer(line, ans, sizeof(ans));
		if (fputs(ans, out) < 0 || fflush(out) != 0)
			break;
	}
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	return NULL;
}

static int serve(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 64) < 0) {
		perror("kvserver: 127.0.0.1");
		return 1;
	}
	store = kv_create(1024);
	printf("kvserver: listening on 127.0.0.1:%d, pid %d\n", port, (int)getpid());
	fflush(stdout);
	for (;;) {
		int c = accept(ls, NULL, NULL);
		pthread_t t;

		if (c >= 0)
			setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* answers go at once */
		if (c >= 0 && pthread_create(&t, NULL, connection, (void *)(intptr_t)c) == 0)
			pthread_detach(t);
	}
}

struct client {
	int port, id;
	long reqs, wrong;
};

static void *client(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(c->port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char line[256];
	FILE *f = NULL, *w = NULL;
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || !(f = fdopen(fd, "r")) ||
	    !(w = fdopen(dup(fd), "w"))) {
		c->wrong = 2 * c->reqs;
		if (f)
			fclose(f);
		return NULL;
	}
	for (long i = 0; i < c->reqs; i++) {
		unsigned long long k = (unsigned long long)(i % 97), v = (unsigned long long)i * 7 + (unsigned)c->id;

		/* each client owns its keys: the answer is known */
		fprintf(w, "put c%d-k%llu %llu\n", c->id, k, v);
		fprintf(w, "get c%d-k%llu\n", c->id, k);
		fflush(w);
		if (!fgets(line, sizeof(line), f) || strcmp(line, "ok\n"))
			c->wrong++;
		if (!fgets(line, sizeof(line), f) || strtoull(line, NULL, 10) != v)
			c->wrong++;
	}
	fclose(f);
	fclose(w);
	return NULL;
}

static int load(int port, int n, long reqs)
{
	struct client c[64];
	pthread_t t[64];
	long wrong = 0;

	for (int i = 0; i < n; i++) {
		c[i] = (struct client){ port, i, reqs, 0 };
		pthread_create(&t[i], NULL, client, &c[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		wrong += c[i].wrong;
	}
	printf("kvserver load: %ld requests, %ld wrong answers\n", 2 * reqs * n, wrong);
	return wrong ? 1 : 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN); /* a closed connection is an error return */
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "load") && atoi(argv[3]) > 0 && atoi(argv[3]) <= 64)
		return load(atoi(argv[2]), atoi(argv[3]), atol(argv[4]));
	fprintf(stderr, "usage: kvserver serve PORT | kvserver load PORT CLIENTS(1-64) REQUESTS\n");
	return 2;
}
