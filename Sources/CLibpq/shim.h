#ifndef SWIFT_CACHING_CLIBPQ_SHIM_H
#define SWIFT_CACHING_CLIBPQ_SHIM_H

#include <libpq-fe.h>

#endif
