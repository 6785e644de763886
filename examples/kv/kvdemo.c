/* kvdemo: runs the libkv workload on N threads and prints the checksums.
 *   kvdemo [THREADS] [OPS] [--wait]   (--wait: then sleep, for `sites -p`) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workload.h"

struct job {
	unsigned seed;
	long ops;
	uint64_t sum;
};

static void *run(void *arg)
{
	struct job *j = arg;

	j->sum = workload_run(j->seed, j->ops);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 4;
	long ops = argc > 2 ? atol(argv[2]) : 200000;
	pthread_t th[64];
	struct job jobs[64];

	if (n < 1 || n > 64 || ops < 1) {
		fprintf(stderr, "usage: kvdemo [THREADS 1-64] [OPS] [--wait]\n");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		jobs[i] = (struct job){ (unsigned)i + 1, ops, 0 };
		pthread_create(&th[i], NULL, run, &jobs[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		printf("thread %d: checksum %016llx\n", i, (unsigned long long)jobs[i].sum);
	}
	if (argc > 3 && !strcmp(argv[3], "--wait"))
		pause();
	return 0;
}
