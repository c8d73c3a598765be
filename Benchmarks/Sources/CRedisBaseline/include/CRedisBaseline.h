#ifndef CREDIS_BASELINE_H
#define CREDIS_BASELINE_H

#include <stddef.h>

/// The C baseline for the Redis benchmarks: hiredis called directly, in loops, on one
/// blocking connection, as a C program would (binary-safe argv commands).

/// Connects to host:port; NULL on failure.
void *crb_connect(const char *host, int port);
/// Closes a connection.
void crb_free(void *context);
/// `iterations` GETs of one key; returns how many hit.
int crb_get_loop(void *context, const char *key, size_t key_length, int iterations);
/// `iterations` SETs of one key; returns how many succeeded.
int crb_set_loop(void *context, const char *key, size_t key_length, const char *value, size_t value_length, int iterations);
/// One MGET of `count` keys; returns how many were found.
int crb_mget(void *context, const char *const *keys, const size_t *key_lengths, size_t count);

#endif
