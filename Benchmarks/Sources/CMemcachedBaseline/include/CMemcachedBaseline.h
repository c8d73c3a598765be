#ifndef CMEMCACHED_BASELINE_H
#define CMEMCACHED_BASELINE_H

#include <stddef.h>
#include <stdint.h>

/// The C baseline for the memcached benchmarks: libmemcached called directly, in loops,
/// on one handle (text protocol, TCP_NODELAY), as a C program would.

/// Creates a handle on host:port; NULL on failure.
void *cmb_create(const char *host, int port);
/// Frees a handle.
void cmb_free(void *handle);
/// Stores one value; returns 0 on success.
int cmb_set(void *handle, const char *key, size_t key_length, const char *value, size_t value_length, uint32_t flags);
/// `iterations` gets of one key; returns how many hit.
int cmb_get_loop(void *handle, const char *key, size_t key_length, int iterations);
/// `iterations` sets of one key; returns how many succeeded.
int cmb_set_loop(void *handle, const char *key, size_t key_length, const char *value, size_t value_length, int iterations);
/// One multi-get of `count` keys, fetching every result; returns how many were found.
int cmb_mget(void *handle, const char *const *keys, const size_t *key_lengths, size_t count);

#endif
