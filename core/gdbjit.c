/* gdb's JIT interface: the process keeps a list of in-memory ELF objects
 * in __jit_debug_descriptor and calls __jit_debug_register_code after each
 * change; gdb, which breaks there, reads the objects' symbols and unwind
 * tables.  Each image gets a tiny relocatable ELF: a NOBITS .text at the
 * image's address, its .eh_frame, one function symbol.  The definitions are
 * weak so that another JIT in the process (LLVM's) can own them. */
#include "core/gdbjit.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>

struct jit_code_entry {
	struct jit_code_entry *next, *prev;
	const char *symfile_addr;
	uint64_t symfile_size;
};

struct jit_descriptor {
	uint32_t version;
	uint32_t action_flag; /* 1 register, 2 unregister */
	struct jit_code_entry *relevant_entry, *first_entry;
};

__attribute__((weak, visibility("default"))) struct jit_descriptor __jit_debug_descriptor = { 1, 0, 0, 0 };

__attribute__((weak, noinline, visibility("default"))) void __jit_debug_register_code(void)
{
	__asm__ volatile("" ::: "memory");
}

struct gdbjit_entry {
	struct jit_code_entry e;
	char *obj;
};

enum { S_NULL, S_TEXT, S_EH, S_SYMTAB, S_STRTAB, S_SHSTRTAB, S_N };

static const char shstr[] = "\0.text\0.eh_frame\0.symtab\0.strtab\0.shstrtab";

struct gdbjit_entry *gdbjit_add(uintptr_t code, size_t len, const char *name, const void *eh, size_t eh_len)
{
	size_t nlen = strlen(name) + 2;
	size_t off_eh = sizeof(Elf64_Ehdr), off_sym = (off_eh + eh_len + 7) & ~7UL;
	size_t off_str = off_sym + 2 * sizeof(Elf64_Sym), off_shstr = off_str + nlen;
	size_t off_sh = (off_shstr + sizeof(shstr) + 7) & ~7UL, total = off_sh + S_N * sizeof(Elf64_Shdr);
	struct gdbjit_entry *g = calloc(1, sizeof(*g));
	char *o = calloc(1, total);
	Elf64_Ehdr *eh_hdr = (Elf64_Ehdr *)o;
	Elf64_Sym *sym = (Elf64_Sym *)(o + off_sym);
	Elf64_Shdr *sh = (Elf64_Shdr *)(o + off_sh);

	if (!g || !o) {
		free(g);
		free(o);
		return NULL;
	}
	memcpy(eh_hdr->e_ident, ELFMAG, SELFMAG);
	eh_hdr->e_ident[EI_CLASS] = ELFCLASS64;
	eh_hdr->e_ident[EI_DATA] = ELFDATA2LSB;
	eh_hdr->e_ident[EI_VERSION] = EV_CURRENT;
	eh_hdr->e_type = ET_REL;
	eh_hdr->e_machine = EM_X86_64;
	eh_hdr->e_version = EV_CURRENT;
	eh_hdr->e_ehsize = sizeof(Elf64_Ehdr);
	eh_hdr->e_shoff = off_sh;
	eh_hdr->e_shentsize = sizeof(Elf64_Shdr);
	eh_hdr->e_shnum = S_N;
	eh_hdr->e_shstrndx = S_SHSTRTAB;
	memcpy(o + off_eh, eh, eh_len);
	sym[1].st_name = 1;
	sym[1].st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
	sym[1].st_shndx = S_TEXT;
	sym[1].st_value = 0; /* relocatable object: relative to .text */
	sym[1].st_size = len;
	memcpy(o + off_str + 1, name, nlen - 1);
	memcpy(o + off_shstr, shstr, sizeof(shstr));
	sh[S_TEXT] = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_NOBITS, .sh_flags = SHF_ALLOC | SHF_EXECINSTR,
				   .sh_addr = code, .sh_size = len, .sh_addralign = 16 };
	sh[S_EH] = (Elf64_Shdr){ .sh_name = 7, .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC,
				 .sh_addr = (uintptr_t)eh, .sh_offset = off_eh, .sh_size = eh_len, .sh_addralign = 8 };
	sh[S_SYMTAB] = (Elf64_Shdr){ .sh_name = 17, .sh_type = SHT_SYMTAB, .sh_offset = off_sym,
				     .sh_size = 2 * sizeof(Elf64_Sym), .sh_link = S_STRTAB, .sh_info = 1,
				     .sh_addralign = 8, .sh_entsize = sizeof(Elf64_Sym) };
	sh[S_STRTAB] = (Elf64_Shdr){ .sh_name = 25, .sh_type = SHT_STRTAB, .sh_offset = off_str,
				     .sh_size = nlen, .sh_addralign = 1 };
	sh[S_SHSTRTAB] = (Elf64_Shdr){ .sh_name = 33, .sh_type = SHT_STRTAB, .sh_offset = off_shstr,
				       .sh_size = sizeof(shstr), .sh_addralign = 1 };
	g->obj = o;
	g->e.symfile_addr = o;
	g->e.symfile_size = total;
	g->e.next = __jit_debug_descriptor.first_entry;
	if (g->e.next)
		g->e.next->prev = &g->e;
	__jit_debug_descriptor.first_entry = &g->e;
	__jit_debug_descriptor.relevant_entry = &g->e;
	__jit_debug_descriptor.action_flag = 1;
	__jit_debug_register_code();
	return g;
}

void gdbjit_remove(struct gdbjit_entry *g)
{
	if (!g)
		return;
	if (g->e.prev)
		g->e.prev->next = g->e.next;
	else
		__jit_debug_descriptor.first_entry = g->e.next;
	if (g->e.next)
		g->e.next->prev = g->e.prev;
	__jit_debug_descriptor.relevant_entry = &g->e;
	__jit_debug_descriptor.action_flag = 2;
	__jit_debug_register_code();
	free(g->obj);
	free(g);
}
