#include "CRedisBaseline.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>

void *crb_connect(const char *host, int port) {
    struct timeval timeout = {1, 0};
    redisContext *context = redisConnectWithTimeout(host, port, timeout);
    if (context == NULL) return NULL;
    if (context->err) {
        redisFree(context);
        return NULL;
    }
    redisSetTimeout(context, timeout);
    return context;
}

void crb_free(void *context) { redisFree((redisContext *)context); }

int crb_get_loop(void *context, const char *key, size_t key_length, int iterations) {
    const char *argv[2] = {"GET", key};
    size_t lengths[2] = {3, key_length};
    int hits = 0;
    for (int i = 0; i < iterations; i++) {
        redisReply *reply = redisCommandArgv((redisContext *)context, 2, argv, lengths);
        if (reply == NULL) return hits;
        if (reply->type == REDIS_REPLY_STRING) hits++;
        freeReplyObject(reply);
    }
    return hits;
}

int crb_set_loop(void *context, const char *key, size_t key_length, const char *value, size_t value_length, int iterations) {
    const char *argv[3] = {"SET", key, value};
    size_t lengths[3] = {3, key_length, value_length};
    int stored = 0;
    for (int i = 0; i < iterations; i++) {
        redisReply *reply = redisCommandArgv((redisContext *)context, 3, argv, lengths);
        if (reply == NULL) return stored;
        if (reply->type == REDIS_REPLY_STATUS) stored++;
        freeReplyObject(reply);
    }
    return stored;
}

int crb_mget(void *context, const char *const *keys, const size_t *key_lengths, size_t count) {
    const char **argv = malloc(sizeof(char *) * (count + 1));
    size_t *lengths = malloc(sizeof(size_t) * (count + 1));
    argv[0] = "MGET";
    lengths[0] = 4;
    for (size_t i = 0; i < count; i++) {
        argv[i + 1] = keys[i];
        lengths[i + 1] = key_lengths[i];
    }
    redisReply *reply = redisCommandArgv((redisContext *)context, (int)count + 1, argv, lengths);
    free(argv);
    free(lengths);
    if (reply == NULL) return -1;
    int found = 0;
    if (reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < reply->elements; i++) {
            if (reply->element[i]->type == REDIS_REPLY_STRING) found++;
        }
    }
    freeReplyObject(reply);
    return found;
}
