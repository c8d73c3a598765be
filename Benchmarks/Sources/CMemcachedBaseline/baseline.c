#include "CMemcachedBaseline.h"

#include <libmemcached/memcached.h>
#include <stdlib.h>
#include <string.h>

void *cmb_create(const char *host, int port) {
    memcached_st *memc = memcached_create(NULL);
    if (memc == NULL) return NULL;
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    if (memcached_server_add(memc, host, (in_port_t)port) != MEMCACHED_SUCCESS) {
        memcached_free(memc);
        return NULL;
    }
    return memc;
}

void cmb_free(void *handle) { memcached_free((memcached_st *)handle); }

int cmb_set(void *handle, const char *key, size_t key_length, const char *value, size_t value_length, uint32_t flags) {
    memcached_return_t rc = memcached_set((memcached_st *)handle, key, key_length, value, value_length, 0, flags);
    return rc == MEMCACHED_SUCCESS ? 0 : (int)rc;
}

int cmb_get_loop(void *handle, const char *key, size_t key_length, int iterations) {
    int hits = 0;
    for (int i = 0; i < iterations; i++) {
        size_t length = 0;
        uint32_t flags = 0;
        memcached_return_t rc;
        char *value = memcached_get((memcached_st *)handle, key, key_length, &length, &flags, &rc);
        if (rc == MEMCACHED_SUCCESS) hits++;
        free(value);
    }
    return hits;
}

int cmb_set_loop(void *handle, const char *key, size_t key_length, const char *value, size_t value_length, int iterations) {
    int stored = 0;
    for (int i = 0; i < iterations; i++) {
        if (memcached_set((memcached_st *)handle, key, key_length, value, value_length, 0, 0) == MEMCACHED_SUCCESS) stored++;
    }
    return stored;
}

int cmb_mget(void *handle, const char *const *keys, const size_t *key_lengths, size_t count) {
    memcached_st *memc = (memcached_st *)handle;
    if (memcached_mget(memc, keys, key_lengths, count) != MEMCACHED_SUCCESS) return -1;
    int found = 0;
    memcached_return_t rc;
    memcached_result_st *result;
    while ((result = memcached_fetch_result(memc, NULL, &rc)) != NULL) {
        /* Copy the value out, as any client must. */
        size_t length = memcached_result_length(result);
        char *copy = malloc(length + 1);
        if (length) memcpy(copy, memcached_result_value(result), length);
        free(copy);
        memcached_result_free(result);
        found++;
    }
    return found;
}
