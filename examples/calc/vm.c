/* The stack machine: one handler per instruction, dispatched through a
 * table (each handler is a traced function of its own). */
#include <stdio.h>

#include "calc.h"
#include "mathx.h"

static int64_t pop(struct vm *vm)
{
	return vm->sp > 0 ? vm->stack[--vm->sp] : 0;
}

static void push(struct vm *vm, int64_t v)
{
	if (vm->sp < (int)(sizeof(vm->stack) / sizeof(vm->stack[0])))
		vm->stack[vm->sp++] = v;
}

#define BINOP(name, expr)                                   \
	static void op_##name(struct vm *vm, int64_t arg)   \
	{                                                   \
		int64_t b = pop(vm), a = pop(vm);           \
		(void)arg;                                  \
		push(vm, (expr));                           \
	}

BINOPS(BINOP)

static void op_HALT(struct vm *vm, int64_t arg) { (void)arg; vm->pc = vm->prog->n; }
static void op_PUSH(struct vm *vm, int64_t arg) { push(vm, arg); }
static void op_LOAD(struct vm *vm, int64_t arg) { push(vm, vm->vars[arg]); }
static void op_STORE(struct vm *vm, int64_t arg) { vm->vars[arg] = pop(vm); }
static void op_POP(struct vm *vm, int64_t arg) { (void)arg; pop(vm); }
static void op_NEG(struct vm *vm, int64_t arg) { (void)arg; push(vm, -pop(vm)); }
static void op_NOT(struct vm *vm, int64_t arg) { (void)arg; push(vm, !pop(vm)); }
static void op_JMP(struct vm *vm, int64_t arg) { vm->pc = (size_t)arg; }

static void op_DUP(struct vm *vm, int64_t arg)
{
	int64_t v = pop(vm);

	(void)arg;
	push(vm, v);
	push(vm, v);
}

static void op_SWAP(struct vm *vm, int64_t arg)
{
	int64_t b = pop(vm), a = pop(vm);

	(void)arg;
	push(vm, b);
	push(vm, a);
}

static void op_JZ(struct vm *vm, int64_t arg)
{
	if (!pop(vm))
		vm->pc = (size_t)arg;
}

static void op_CALL(struct vm *vm, int64_t arg)
{
	const struct mathx_builtin *b = &mathx_builtins[arg];
	int64_t args[3] = { 0 };

	for (int i = b->nargs - 1; i >= 0; i--)
		args[i] = pop(vm);
	push(vm, b->fn(args, b->nargs));
}

static void op_PRINT(struct vm *vm, int64_t arg)
{
	uint64_t v = (uint64_t)pop(vm);

	(void)arg;
	vm->checksum = (vm->checksum ^ v) * 0x100000001b3ULL;
	if (vm->nprinted < (int)(sizeof(vm->printed) / sizeof(vm->printed[0])))
		vm->printed[vm->nprinted++] = (int64_t)v;
}

static void op_KVPUT(struct vm *vm, int64_t arg)
{
	int64_t v = pop(vm), key = pop(vm);
	char k[32];

	(void)arg;
	snprintf(k, sizeof(k), "k%lld", (long long)key);
	kv_put(vm->kv, k, (uint64_t)v);
	push(vm, v);
}

static void op_KVGET(struct vm *vm, int64_t arg)
{
	int64_t key = pop(vm);
	uint64_t v = 0;
	char k[32];

	(void)arg;
	snprintf(k, sizeof(k), "k%lld", (long long)key);
	kv_get(vm->kv, k, &v);
	push(vm, (int64_t)v);
}

typedef void (*handler)(struct vm *, int64_t);

static const handler handlers[OP_COUNT] = {
#define X(name) [OP_##name] = op_##name,
	OPS(X)
#undef X
};

int vm_run(struct vm *vm, const struct program *p, long max_steps)
{
	vm->prog = p;
	vm->pc = 0;
	vm->sp = 0;
	while (vm->pc < p->n && vm->steps < max_steps) {
		const struct insn *in = &p->code[vm->pc++];

		handlers[in->op](vm, in->arg);
		vm->steps++;
	}
	return vm->steps < max_steps ? 0 : -1;
}
