/* See fault.h. */
#include "base/fault.h"

int (*pt_fault_hook)(const char *what);
