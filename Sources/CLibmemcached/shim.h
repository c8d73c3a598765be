#ifndef SWIFT_CACHING_CLIBMEMCACHED_SHIM_H
#define SWIFT_CACHING_CLIBMEMCACHED_SHIM_H

#include <libmemcached/memcached.h>
#include <libmemcached/util.h>

#endif
